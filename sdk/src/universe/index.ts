// meridian.universe.v1: messages, the service descriptor, its typed errors.
export * from "../gen/meridian/universe/v1/universe_pb.js";
export * from "../gen/meridian/universe/v1/universe_meridian.js";
export { UnknownSymbolSchema } from "../gen/meridian/universe/v1/errors_pb.js";
export { UnknownSymbol } from "../gen/meridian/universe/v1/errors_meridian.js";
