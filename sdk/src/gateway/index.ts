// meridian.gateway.v1: messages, the service descriptor, its typed errors.
export * from "../gen/meridian/gateway/v1/gateway_pb.js";
export * from "../gen/meridian/gateway/v1/gateway_meridian.js";
export { UnknownAccountSchema } from "../gen/meridian/gateway/v1/errors_pb.js";
export * from "../gen/meridian/gateway/v1/errors_meridian.js";
