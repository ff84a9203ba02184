import { describe, expect, test } from "bun:test";
import { valueHoldings } from "./valuation.js";

describe("valueHoldings", () => {
  test("market values, unrealised P&L, totals and weights, positions by symbol", () => {
    const valuation = valueHoldings(
      100_000n,
      [
        { symbol: "BBB", quantity: 3n, costBasisMinor: 3_000n },
        { symbol: "AAA", quantity: 10n, costBasisMinor: 150_000n },
      ],
      new Map([
        // 10 × $155.50 = 155,500 cents
        ["AAA", { priceMicros: 155_500_000n, date: "2026-11-24" }],
        // 3 × $10.333333 = 3,099.9999 cents → 3,100
        ["BBB", { priceMicros: 10_333_333n, date: "2026-11-20" }],
      ]),
    );
    expect(valuation.positions.map((p) => p.symbol)).toEqual(["AAA", "BBB"]);
    const [aaa, bbb] = valuation.positions;
    expect(aaa).toMatchObject({ quantity: 10n, averageCostMicros: 150_000_000n, lastPriceMicros: 155_500_000n, marketValueMinor: 155_500n, costBasisMinor: 150_000n, unrealizedPnlMinor: 5_500n });
    // average cost 3,000 cents / 3 = $10.00
    expect(bbb).toMatchObject({ marketValueMinor: 3_100n, averageCostMicros: 10_000_000n, unrealizedPnlMinor: 100n });
    expect(valuation.positionsValueMinor).toBe(158_600n);
    expect(valuation.totalValueMinor).toBe(258_600n);
    expect(valuation.unrealizedPnlMinor).toBe(5_600n);
    // 155,500 / 258,600 and 3,100 / 258,600
    expect(aaa!.weight).toBeCloseTo(0.601315, 6);
    expect(bbb!.weight).toBeCloseTo(0.011988, 6);
    // valued as of the oldest price used
    expect(valuation.valuedAsOf).toBe("2026-11-20");
  });

  test("market value rounds half to even", () => {
    // 1 × 0.5 cent → 0; 3 × 0.5 cent = 1.5 → 2
    const one = valueHoldings(0n, [{ symbol: "A", quantity: 1n, costBasisMinor: 0n }], new Map([["A", { priceMicros: 5_000n, date: "d" }]]));
    const three = valueHoldings(0n, [{ symbol: "A", quantity: 3n, costBasisMinor: 0n }], new Map([["A", { priceMicros: 5_000n, date: "d" }]]));
    expect(one.positionsValueMinor).toBe(0n);
    expect(three.positionsValueMinor).toBe(2n);
  });

  test("cash only: the total is the cash, no valuation date", () => {
    const valuation = valueHoldings(12_345n, [], new Map());
    expect(valuation).toEqual({ positions: [], positionsValueMinor: 0n, totalValueMinor: 12_345n, unrealizedPnlMinor: 0n, valuedAsOf: "" });
  });

  test("weights are 0 when the total is not positive", () => {
    const valuation = valueHoldings(-200n, [{ symbol: "A", quantity: 1n, costBasisMinor: 100n }], new Map([["A", { priceMicros: 1_000_000n, date: "d" }]]));
    expect(valuation.totalValueMinor).toBe(-100n);
    expect(valuation.positions[0]!.weight).toBe(0);
  });

  test("a held symbol without a price is a bug", () => {
    expect(() => valueHoldings(0n, [{ symbol: "A", quantity: 1n, costBasisMinor: 0n }], new Map())).toThrow(RangeError);
  });
});
