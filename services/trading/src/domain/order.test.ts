import { describe, expect, test } from "bun:test";
import { OrderSide, OrderType } from "@meridian/sdk/trading";
import { sameTerms, validateOrder } from "./order.js";

const good = {
  accountId: "acc-1",
  symbol: "AAPL",
  side: OrderSide.BUY,
  quantity: 10n,
  type: OrderType.MARKET,
  limitPriceMicros: 0n,
  idempotencyKey: "k-1",
};

const fieldsOf = (request: typeof good) => {
  const result = validateOrder(request);
  return result.ok ? [] : result.violations.map((v) => v.field);
};

describe("order validation", () => {
  test("a well-formed market order and limit order pass", () => {
    expect(validateOrder(good).ok).toBe(true);
    expect(validateOrder({ ...good, type: OrderType.LIMIT, limitPriceMicros: 150_000_000n }).ok).toBe(true);
  });

  test("every broken rule is named by its field, all at once", () => {
    expect(
      fieldsOf({ accountId: "", symbol: "aapl", side: OrderSide.UNSPECIFIED, quantity: 0n, type: OrderType.UNSPECIFIED, limitPriceMicros: 0n, idempotencyKey: "" }),
    ).toEqual(["account_id", "symbol", "side", "quantity", "type", "idempotency_key"]);
  });

  test("a limit order needs a positive limit price; a market order must have none", () => {
    expect(fieldsOf({ ...good, type: OrderType.LIMIT, limitPriceMicros: 0n })).toEqual(["limit_price_micros"]);
    expect(fieldsOf({ ...good, type: OrderType.LIMIT, limitPriceMicros: -5n })).toEqual(["limit_price_micros"]);
    expect(fieldsOf({ ...good, limitPriceMicros: 1n })).toEqual(["limit_price_micros"]);
  });

  test("quantity must be positive; the idempotency key 1 to 128 characters", () => {
    expect(fieldsOf({ ...good, quantity: -1n })).toEqual(["quantity"]);
    expect(fieldsOf({ ...good, idempotencyKey: "k".repeat(128) })).toEqual([]);
    expect(fieldsOf({ ...good, idempotencyKey: "k".repeat(129) })).toEqual(["idempotency_key"]);
  });

  test("terms are the same only when every parameter is", () => {
    const a = validateOrder(good);
    const b = validateOrder({ ...good, idempotencyKey: "other" });
    const c = validateOrder({ ...good, quantity: 11n });
    if (!a.ok || !b.ok || !c.ok) throw new Error("valid");
    expect(sameTerms(a.terms, b.terms)).toBe(true);
    expect(sameTerms(a.terms, c.terms)).toBe(false);
  });
});
