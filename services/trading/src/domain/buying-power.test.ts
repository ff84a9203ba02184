import { describe, expect, test } from "bun:test";
import { buyHoldMinor, buyingPowerMinor, checkFunds, checkPosition } from "./buying-power.js";

describe("buying power", () => {
  test("a buy holds its gross at the price plus the fee", () => {
    // 10 × $100.05 = $1,000.50 = 100,050 cents; 10 bps fee = 100.05 → 100
    expect(buyHoldMinor(10n, 100_050_000n, 10)).toBe(100_150n);
    expect(buyHoldMinor(10n, 100_050_000n, 0)).toBe(100_050n);
  });

  test("buying power is cash less what open buys hold", () => {
    expect(buyingPowerMinor({ cashMinor: 1_000_000n, heldMinor: 250_000n })).toBe(750_000n);
  });

  test("a buy up to the buying power passes; one cent more is refused with both amounts", () => {
    const balances = { cashMinor: 1_000_000n, heldMinor: 250_000n };
    expect(checkFunds(balances, 750_000n)).toBeUndefined();
    expect(checkFunds(balances, 750_001n)).toEqual({ requiredMinor: 750_001n, availableMinor: 750_000n });
  });

  test("a sell may offer what was filled and not yet offered", () => {
    expect(checkPosition({ filledQuantity: 100n, offeredQuantity: 30n }, 70n)).toBeUndefined();
    expect(checkPosition({ filledQuantity: 100n, offeredQuantity: 30n }, 71n)).toEqual({ requested: 71n, available: 70n });
    expect(checkPosition({ filledQuantity: 0n, offeredQuantity: 0n }, 1n)).toEqual({ requested: 1n, available: 0n });
  });
});
