// meridian.market.v1: messages, the service descriptor, its typed errors.
export * from "../gen/meridian/market/v1/events_pb.js";
export * from "../gen/meridian/market/v1/market_pb.js";
export * from "../gen/meridian/market/v1/market_meridian.js";
export { UnknownSymbolsSchema, InsufficientHistorySchema } from "../gen/meridian/market/v1/errors_pb.js";
export * from "../gen/meridian/market/v1/errors_meridian.js";
