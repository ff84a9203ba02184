import { describe, expect, test } from "bun:test";
import { buyHoldMinor } from "./buying-power.js";

describe("what a buy holds", () => {
  test("a buy holds its gross at the price plus the fee", () => {
    // 10 × $100.05 = $1,000.50 = 100,050 cents; 10 bps fee = 100.05 → 100
    expect(buyHoldMinor(10n, 100_050_000n, 10)).toBe(100_150n);
    expect(buyHoldMinor(10n, 100_050_000n, 0)).toBe(100_050n);
  });
});
