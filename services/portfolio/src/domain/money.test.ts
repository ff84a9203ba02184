import { describe, expect, test } from "bun:test";
import { amountMinor, divideHalfEven } from "./money.js";

describe("divideHalfEven", () => {
  test("rounds to the nearest integer, ties to the even one, on both signs", () => {
    // 2.4 → 2, 2.6 → 3, 2.5 → 2 (even), 3.5 → 4 (even); the same mirrored below zero.
    expect([24n, 26n, 25n, 35n].map((n) => divideHalfEven(n, 10n))).toEqual([2n, 3n, 2n, 4n]);
    expect([-24n, -26n, -25n, -35n].map((n) => divideHalfEven(n, 10n))).toEqual([-2n, -3n, -2n, -4n]);
    expect(divideHalfEven(25n, -10n)).toBe(-2n);
    expect(divideHalfEven(0n, 7n)).toBe(0n);
  });

  test("division by zero is a bug, not a value", () => {
    expect(() => divideHalfEven(1n, 0n)).toThrow(RangeError);
  });
});

describe("amountMinor", () => {
  test("quantity × price micros / 10,000, rounded half to even", () => {
    // 10 × $155.50 = $1,555.00 = 155,500 cents.
    expect(amountMinor(10n, 155_500_000n)).toBe(155_500n);
    // 3 × $10.333333 = $30.999999 → 3,099.9999 cents → 3,100.
    expect(amountMinor(3n, 10_333_333n)).toBe(3_100n);
    // Half a cent: 1 × 0.005 → 0.5 cent → 0 (even); 3 × → 1.5 → 2; 5 × → 2.5 → 2.
    expect(amountMinor(1n, 5_000n)).toBe(0n);
    expect(amountMinor(3n, 5_000n)).toBe(2n);
    expect(amountMinor(5n, 5_000n)).toBe(2n);
  });

  test("stays exact far beyond 2^53", () => {
    // 10^9 shares × $1,000,000.000001 = 10^15 + 10^3 units = 10^17 + 10^5 cents.
    expect(amountMinor(1_000_000_000n, 1_000_000_000_001n)).toBe(100_000_000_000_100_000n);
  });
});
