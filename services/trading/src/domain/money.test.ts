import { describe, expect, test } from "bun:test";
import { cashEffectMinor, divideHalfEven, feeMinor, grossAmountMinor } from "./money.js";

describe("money", () => {
  test("half to even rounds ties to the even neighbour, in both signs", () => {
    expect(divideHalfEven(25n, 10n)).toBe(2n); // 2.5 → 2
    expect(divideHalfEven(35n, 10n)).toBe(4n); // 3.5 → 4
    expect(divideHalfEven(26n, 10n)).toBe(3n); // 2.6 → 3
    expect(divideHalfEven(24n, 10n)).toBe(2n); // 2.4 → 2
    expect(divideHalfEven(-25n, 10n)).toBe(-2n);
    expect(divideHalfEven(-35n, 10n)).toBe(-4n);
    expect(divideHalfEven(-26n, 10n)).toBe(-3n);
    expect(divideHalfEven(30n, 10n)).toBe(3n);
  });

  test("gross amount: quantity × price micros / 10,000, half to even", () => {
    // 10 × $187.123450 = $1,871.2345 → 187,123.45 cents → 187,123
    expect(grossAmountMinor(10n, 187_123_450n)).toBe(187_123n);
    // 10 × $187.123550 = 187,123.55 cents → 187,124
    expect(grossAmountMinor(10n, 187_123_550n)).toBe(187_124n);
    // ties: 1 × $0.005 = 0.5 cent → 0 (even); 3 × $0.005 = 1.5 cents → 2 (even); 5 × = 2.5 → 2
    expect(grossAmountMinor(1n, 5_000n)).toBe(0n);
    expect(grossAmountMinor(3n, 5_000n)).toBe(2n);
    expect(grossAmountMinor(5n, 5_000n)).toBe(2n);
    // 3 × $0.333333 = $0.999999 → 99.9999 cents → 100
    expect(grossAmountMinor(3n, 333_333n)).toBe(100n);
    // 1 × $100 = 10,000 cents exactly
    expect(grossAmountMinor(1n, 100_000_000n)).toBe(10_000n);
  });

  test("fees in basis points of the gross, half to even", () => {
    expect(feeMinor(187_123n, 0)).toBe(0n);
    // 10 bps of $1,871.23 = 187.123 cents → 187
    expect(feeMinor(187_123n, 10)).toBe(187n);
    // 25 bps of 200 cents = 0.5 → 0 (tie, even); of 600 cents = 1.5 → 2
    expect(feeMinor(200n, 25)).toBe(0n);
    expect(feeMinor(600n, 25)).toBe(2n);
  });

  test("a buy pays gross plus fee, a sell receives gross less fee", () => {
    expect(cashEffectMinor("buy", 10_000n, 15n)).toBe(-10_015n);
    expect(cashEffectMinor("sell", 10_000n, 15n)).toBe(9_985n);
  });
});
