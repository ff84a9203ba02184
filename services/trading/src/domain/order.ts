/**
 * What makes an order request valid, as a pure function: each broken rule is a
 * field violation named by its proto field, all of them at once.
 */
import { OrderSide, OrderType, type PlaceOrderRequest } from "@meridian/sdk/trading";

/** One broken rule. */
export interface Violation {
  readonly field: string;
  readonly description: string;
}

/** An order request that passed validation: the parameters an idempotency key is bound to. */
export interface OrderTerms {
  readonly accountId: string;
  readonly symbol: string;
  readonly side: OrderSide.BUY | OrderSide.SELL;
  readonly type: OrderType.MARKET | OrderType.LIMIT;
  readonly quantity: bigint;
  /** 0n for market orders. */
  readonly limitPriceMicros: bigint;
  readonly idempotencyKey: string;
}

/** Ticker symbols as the universe has them: an upper-case letter, then up to 9 upper-case letters, digits or dots. */
export const symbolPattern = /^[A-Z][A-Z0-9.]{0,9}$/;

/** Longest idempotency key, characters. */
export const maxIdempotencyKeyLength = 128;

/** Longest account id, characters (portfolio's ids are UUIDs; anything longer is not one of them). */
export const maxAccountIdLength = 64;

// A quantity or price beyond this would overflow the cash arithmetic's int64 on the wire.
const maxQuantity = 1_000_000_000n;
const maxPriceMicros = 1_000_000_000_000_000n;

/** The checked terms of a PlaceOrder request, or every rule it breaks. */
export function validateOrder(
  request: Pick<PlaceOrderRequest, "accountId" | "symbol" | "side" | "quantity" | "type" | "limitPriceMicros" | "idempotencyKey">,
): { readonly ok: true; readonly terms: OrderTerms } | { readonly ok: false; readonly violations: Violation[] } {
  const violations: Violation[] = [
    ...checkAccountId(request.accountId, "account_id"),
    ...checkSymbol(request.symbol, "symbol"),
  ];
  if (request.side !== OrderSide.BUY && request.side !== OrderSide.SELL) {
    violations.push({ field: "side", description: "must be ORDER_SIDE_BUY or ORDER_SIDE_SELL" });
  }
  if (request.quantity <= 0n) violations.push({ field: "quantity", description: "must be greater than 0" });
  else if (request.quantity > maxQuantity) violations.push({ field: "quantity", description: `must be at most ${maxQuantity}` });
  if (request.type === OrderType.LIMIT) {
    if (request.limitPriceMicros <= 0n) {
      violations.push({ field: "limit_price_micros", description: "must be greater than 0 for a limit order" });
    } else if (request.limitPriceMicros > maxPriceMicros) {
      violations.push({ field: "limit_price_micros", description: `must be at most ${maxPriceMicros}` });
    }
  } else if (request.type === OrderType.MARKET) {
    if (request.limitPriceMicros !== 0n) {
      violations.push({ field: "limit_price_micros", description: "must be 0 for a market order" });
    }
  } else {
    violations.push({ field: "type", description: "must be ORDER_TYPE_MARKET or ORDER_TYPE_LIMIT" });
  }
  const key = request.idempotencyKey;
  if (key.length === 0 || key.length > maxIdempotencyKeyLength) {
    violations.push({ field: "idempotency_key", description: `must be 1 to ${maxIdempotencyKeyLength} characters` });
  }
  if (violations.length > 0) return { ok: false, violations };
  return {
    ok: true,
    terms: {
      accountId: request.accountId,
      symbol: request.symbol,
      side: request.side as OrderSide.BUY | OrderSide.SELL,
      type: request.type as OrderType.MARKET | OrderType.LIMIT,
      quantity: request.quantity,
      limitPriceMicros: request.limitPriceMicros,
      idempotencyKey: key,
    },
  };
}

/** The rule an account id breaks, if any. */
export function checkAccountId(accountId: string, field: string): Violation[] {
  if (accountId.trim() === "") return [{ field, description: "is required" }];
  if (accountId.length > maxAccountIdLength) return [{ field, description: `must be at most ${maxAccountIdLength} characters` }];
  return [];
}

/** The rule a symbol breaks, if any. */
export function checkSymbol(symbol: string, field: string): Violation[] {
  return symbolPattern.test(symbol)
    ? []
    : [{ field, description: `must match ${symbolPattern.source} (got ${JSON.stringify(symbol.slice(0, 40))})` }];
}

/** The rule an order id breaks, if any: ids are UUIDs. */
export function checkOrderId(orderId: string, field: string): Violation[] {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(orderId)
    ? []
    : [{ field, description: `must be an order id (a UUID), got ${JSON.stringify(orderId.slice(0, 40))}` }];
}

/** The parameters an idempotency key is bound to. */
export type KeyedTerms = Pick<OrderTerms, "accountId" | "symbol" | "quantity" | "limitPriceMicros"> & {
  readonly side: OrderSide;
  readonly type: OrderType;
};

/** True when a stored order was placed with exactly these terms (what an idempotency key is bound to). */
export function sameTerms(a: KeyedTerms, b: KeyedTerms): boolean {
  return (
    a.accountId === b.accountId &&
    a.symbol === b.symbol &&
    a.side === b.side &&
    a.type === b.type &&
    a.quantity === b.quantity &&
    a.limitPriceMicros === b.limitPriceMicros
  );
}
