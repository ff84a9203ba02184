import { describe, expect, test } from "bun:test";
import { applyFill, averageCostMicros, isRefusal, type Fill, type FillEffect, type Holding } from "./holdings.js";

const fill = (side: "buy" | "sell", quantity: bigint, priceMicros: bigint, grossAmountMinor: bigint, feeMinor = 0n): Fill => ({
  fillId: `f-${side}-${quantity}-${priceMicros}`,
  symbol: "AAA",
  side,
  quantity,
  priceMicros,
  grossAmountMinor,
  feeMinor,
});

function applied(holding: Holding | undefined, f: Fill): FillEffect {
  const result = applyFill(holding, f);
  if (isRefusal(result)) throw new Error(`refused: ${JSON.stringify(result, (_, v) => (typeof v === "bigint" ? `${v}` : v))}`);
  return result;
}

describe("applyFill", () => {
  test("a buy takes gross + fee from cash, adds shares at cost = gross, and realises the fee as a loss", () => {
    // 10 × $150.00 = 150,000 cents, fee 100 cents.
    const effect = applied(undefined, fill("buy", 10n, 150_000_000n, 150_000n, 100n));
    expect(effect.cashDeltaMinor).toBe(-150_100n);
    expect(effect.realizedPnlDeltaMinor).toBe(-100n);
    expect(effect.quantityDelta).toBe(10n);
    expect(effect.holding).toEqual({ symbol: "AAA", quantity: 10n, costBasisMinor: 150_000n });
    expect(averageCostMicros(effect.holding!)).toBe(150_000_000n);
  });

  test("a second buy averages the cost", () => {
    const first = applied(undefined, fill("buy", 10n, 150_000_000n, 150_000n)).holding;
    // + 5 × $160.00 = 80,000 cents → 15 shares costing 230,000 cents: $153.333333… → 153,333,333 micros.
    const second = applied(first, fill("buy", 5n, 160_000_000n, 80_000n));
    expect(second.holding).toEqual({ symbol: "AAA", quantity: 15n, costBasisMinor: 230_000n });
    expect(averageCostMicros(second.holding!)).toBe(153_333_333n);
  });

  test("a sell adds gross − fee to cash and realises P&L against the average cost", () => {
    const holding: Holding = { symbol: "AAA", quantity: 15n, costBasisMinor: 230_000n };
    // Sell 6 × $170.00 = 102,000 cents, fee 50. Cost sold = 230,000 × 6 / 15 = 92,000.
    // Realised = 102,000 − 50 − 92,000 = 9,950. Left: 9 shares costing 138,000.
    const effect = applied(holding, fill("sell", 6n, 170_000_000n, 102_000n, 50n));
    expect(effect.cashDeltaMinor).toBe(101_950n);
    expect(effect.realizedPnlDeltaMinor).toBe(9_950n);
    expect(effect.quantityDelta).toBe(-6n);
    expect(effect.holding).toEqual({ symbol: "AAA", quantity: 9n, costBasisMinor: 138_000n });
  });

  test("a sell that closes the position takes the whole cost basis and leaves no holding", () => {
    const holding: Holding = { symbol: "AAA", quantity: 9n, costBasisMinor: 138_000n };
    // Sell 9 × $140.00 = 126,000 cents: realised 126,000 − 138,000 = −12,000.
    const effect = applied(holding, fill("sell", 9n, 140_000_000n, 126_000n));
    expect(effect.cashDeltaMinor).toBe(126_000n);
    expect(effect.realizedPnlDeltaMinor).toBe(-12_000n);
    expect(effect.holding).toBeUndefined();
  });

  test("cost sold is rounded half to even, and the pieces add up to the whole cost", () => {
    // 3 shares costing 1,000 cents, sold one at a time at $4.00 (400 cents each):
    // 1,000 × 1/3 = 333.33 → 333 (667 left); 667 × 1/2 = 333.5 → 334 (even; 333 left); the last takes 333.
    let holding: Holding | undefined = { symbol: "AAA", quantity: 3n, costBasisMinor: 1_000n };
    const realised: bigint[] = [];
    for (let i = 0; i < 3; i++) {
      const effect = applied(holding, fill("sell", 1n, 4_000_000n, 400n));
      realised.push(effect.realizedPnlDeltaMinor);
      holding = effect.holding;
    }
    expect(realised).toEqual([67n, 66n, 67n]);
    expect(realised.reduce((a, b) => a + b)).toBe(3n * 400n - 1_000n);
    expect(holding).toBeUndefined();
  });

  test("cash + cost basis = initial cash + realised P&L after any sequence, to the cent", () => {
    const initial = 1_000_000n;
    let cash = initial;
    let realised = 0n;
    let holding: Holding | undefined;
    const fills = [
      fill("buy", 7n, 33_333_333n, 23_333n, 17n), // 7 × 33.333333 = 233.333331 → 23,333 cents
      fill("buy", 13n, 29_990_000n, 38_987n, 5n),
      fill("sell", 11n, 35_555_555n, 39_111n, 9n),
      fill("buy", 2n, 31_000_000n, 6_200n, 0n),
      fill("sell", 11n, 30_000_001n, 33_000n, 3n),
    ];
    for (const f of fills) {
      const effect = applied(holding, f);
      cash += effect.cashDeltaMinor;
      realised += effect.realizedPnlDeltaMinor;
      holding = effect.holding;
      expect(cash + (holding?.costBasisMinor ?? 0n)).toBe(initial + realised);
    }
    expect(holding).toBeUndefined();
  });

  test("selling more than is held, or what is not held, is refused", () => {
    expect(applyFill({ symbol: "AAA", quantity: 2n, costBasisMinor: 10n }, fill("sell", 3n, 1n, 0n))).toEqual({
      _tag: "InsufficientShares",
      symbol: "AAA",
      held: 2n,
      sold: 3n,
    });
    expect(applyFill(undefined, fill("sell", 1n, 1n, 0n))).toMatchObject({ _tag: "InsufficientShares", held: 0n });
  });

  test("nonsense fills are refused", () => {
    expect(applyFill(undefined, fill("buy", 0n, 1n, 0n))).toMatchObject({ _tag: "InvalidFill" });
    expect(applyFill(undefined, fill("buy", 1n, -1n, 0n))).toMatchObject({ _tag: "InvalidFill" });
    expect(applyFill(undefined, fill("buy", 1n, 1n, -1n))).toMatchObject({ _tag: "InvalidFill" });
    expect(applyFill(undefined, fill("buy", 1n, 1n, 0n, -1n))).toMatchObject({ _tag: "InvalidFill" });
    expect(applyFill({ symbol: "BBB", quantity: 1n, costBasisMinor: 1n }, fill("buy", 1n, 1n, 0n))).toMatchObject({ _tag: "InvalidFill" });
  });
});
