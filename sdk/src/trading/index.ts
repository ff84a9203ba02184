// meridian.trading.v1: messages, the service descriptor, its typed errors.
export * from "../gen/meridian/trading/v1/events_pb.js";
export * from "../gen/meridian/trading/v1/trading_pb.js";
export * from "../gen/meridian/trading/v1/trading_meridian.js";
export { UnknownOrderSchema, UnknownAccountSchema, UnknownSymbolSchema, SymbolNotTradableSchema, InsufficientFundsSchema, InsufficientPositionSchema, OrderNotCancellableSchema, IdempotencyKeyReusedSchema } from "../gen/meridian/trading/v1/errors_pb.js";
export * from "../gen/meridian/trading/v1/errors_meridian.js";
