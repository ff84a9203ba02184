// The trading service's domain errors, declared in proto/meridian/trading/v1/errors.proto.
export {
  CurrencyMismatch,
  IdempotencyKeyReused,
  InsufficientFunds,
  InsufficientPosition,
  NoQuote,
  OrderNotCancellable,
  SymbolNotTradable,
  UnknownAccount,
  UnknownOrder,
  UnknownSymbol,
} from "@meridian/sdk/trading";
