import { describe, expect, test } from "bun:test";
import { grossMinor, lotsWithin } from "./money.js";

describe("integer money", () => {
  test("gross amounts round half to even, in cents", () => {
    expect(grossMinor(1n, 12_345n)).toBe(1n); // 1.2345 cents
    expect(grossMinor(1n, 15_000n)).toBe(2n); // 1.5 → 2
    expect(grossMinor(1n, 25_000n)).toBe(2n); // 2.5 → 2
    expect(grossMinor(3n, 33_330_000n)).toBe(9_999n); // 3 × $33.33
  });

  test("lotsWithin buys the most whole lots whose amount fits", () => {
    expect(lotsWithin(920_000n, 250_000_000n, 1n)).toBe(36n);
    expect(lotsWithin(920_000n, 250_000_000n, 5n)).toBe(35n);
    expect(lotsWithin(99n, 1_000_000n, 1n)).toBe(0n); // one $1 share costs 100 cents
    expect(lotsWithin(0n, 1_000_000n, 1n)).toBe(0n);
    expect(lotsWithin(2n, 15_000n, 1n)).toBe(1n); // 1 share = 2 cents (1.5 rounded even), 2 shares = 3
  });
});
