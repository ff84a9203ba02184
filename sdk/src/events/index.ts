// meridian.events.v1: the envelope every event travels in.
export * from "../gen/meridian/events/v1/envelope_pb.js";
