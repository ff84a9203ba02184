import { describe, expect, test } from "bun:test";
import { OrderSide } from "@meridian/sdk/trading";
import { limitFillPriceMicros, marketFillPriceMicros } from "./execution.js";

describe("market fills", () => {
  test("a buy fills above the quote by the slippage, rounded up to a whole micro", () => {
    // $100 + 5 bps = $100.05
    expect(marketFillPriceMicros(100_000_000n, OrderSide.BUY, 5)).toBe(100_050_000n);
    // 1.000001 × 1.0005 = 1.0005010005 → 1,000,502 micros (up)
    expect(marketFillPriceMicros(1_000_001n, OrderSide.BUY, 5)).toBe(1_000_502n);
  });

  test("a sell fills below the quote by the slippage, rounded down to a whole micro", () => {
    expect(marketFillPriceMicros(100_000_000n, OrderSide.SELL, 5)).toBe(99_950_000n);
    // 1.000001 × 0.9995 = 0.9995009995 → 999,500 micros (down)
    expect(marketFillPriceMicros(1_000_001n, OrderSide.SELL, 5)).toBe(999_500n);
  });

  test("zero slippage fills at the quote", () => {
    expect(marketFillPriceMicros(123_456_789n, OrderSide.BUY, 0)).toBe(123_456_789n);
    expect(marketFillPriceMicros(123_456_789n, OrderSide.SELL, 0)).toBe(123_456_789n);
  });
});

describe("limit crossing on a bar", () => {
  const bar = { openMicros: 101_000_000n, highMicros: 104_000_000n, lowMicros: 99_000_000n };

  test("a buy fills when the low reaches the limit, at the limit", () => {
    expect(limitFillPriceMicros(bar, OrderSide.BUY, 100_000_000n)).toBe(100_000_000n);
    expect(limitFillPriceMicros(bar, OrderSide.BUY, 99_000_000n)).toBe(99_000_000n); // low = limit
  });

  test("a buy whose limit is above the open fills at the open (the market gapped below it)", () => {
    expect(limitFillPriceMicros(bar, OrderSide.BUY, 102_000_000n)).toBe(101_000_000n);
  });

  test("a buy below the day's low does not fill", () => {
    expect(limitFillPriceMicros(bar, OrderSide.BUY, 98_999_999n)).toBeUndefined();
  });

  test("a sell fills when the high reaches the limit, at the limit, or at a higher open", () => {
    expect(limitFillPriceMicros(bar, OrderSide.SELL, 103_000_000n)).toBe(103_000_000n);
    expect(limitFillPriceMicros(bar, OrderSide.SELL, 104_000_000n)).toBe(104_000_000n); // high = limit
    expect(limitFillPriceMicros(bar, OrderSide.SELL, 100_000_000n)).toBe(101_000_000n);
  });

  test("a sell above the day's high does not fill", () => {
    expect(limitFillPriceMicros(bar, OrderSide.SELL, 104_000_001n)).toBeUndefined();
  });
});
