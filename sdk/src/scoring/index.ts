// meridian.scoring.v1: messages, the service descriptor, its typed errors.
export * from "../gen/meridian/scoring/v1/scoring_pb.js";
export * from "../gen/meridian/scoring/v1/scoring_meridian.js";
export { UnknownSymbolsSchema, InsufficientHistorySchema } from "../gen/meridian/scoring/v1/errors_pb.js";
export * from "../gen/meridian/scoring/v1/errors_meridian.js";
