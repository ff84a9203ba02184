import { describe, expect, test } from "bun:test";
import { addDays, daysBetween, performanceSeries, totalReturnOf, tradingDays, weekdays } from "./performance.js";

describe("performanceSeries", () => {
  // $1,000.00; buy 10 AAA @ $100.00 + 50 cents fee on Jan 2; sell 4 @ $110.00 on Jan 4.
  const ledger = [
    { date: "2024-01-02", symbol: "AAA", quantityDelta: 10n, cashDeltaMinor: -100_050n, priceMicros: 100_000_000n },
    { date: "2024-01-04", symbol: "AAA", quantityDelta: -4n, cashDeltaMinor: 44_000n, priceMicros: 110_000_000n },
  ];
  const closes = new Map([
    [
      "AAA",
      [
        { date: "2024-01-02", closeMicros: 101_000_000n },
        { date: "2024-01-03", closeMicros: 99_000_000n },
        { date: "2024-01-04", closeMicros: 108_000_000n },
        { date: "2024-01-05", closeMicros: 112_000_000n },
      ],
    ],
  ]);

  test("values the holdings of each day's end at that day's close", () => {
    const days = tradingDays("2024-01-01", "2024-01-05", closes);
    expect(days).toEqual(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]);
    const { points, totalReturn } = performanceSeries({ initialCashMinor: 100_000n, ledger, closes, days });
    // Jan 2: cash −50 + 10 × 101.00 → 100,950; Jan 3: −50 + 99,000 → 98,950;
    // Jan 4: cash 43,950 + 6 × 108.00 → 108,750; Jan 5: 43,950 + 6 × 112.00 → 111,150.
    expect(points).toEqual([
      { date: "2024-01-02", totalValueMinor: 100_950n },
      { date: "2024-01-03", totalValueMinor: 98_950n },
      { date: "2024-01-04", totalValueMinor: 108_750n },
      { date: "2024-01-05", totalValueMinor: 111_150n },
    ]);
    // 111,150 / 100,950 − 1 = 10,200 / 100,950
    expect(totalReturn).toBeCloseTo(10_200 / 100_950, 12);
  });

  test("a day before any fill is the initial cash; a day without its own close carries the last one", () => {
    const { points } = performanceSeries({ initialCashMinor: 100_000n, ledger, closes, days: ["2024-01-01", "2024-01-06"] });
    // Jan 6 (no bar): Jan 5's close.
    expect(points).toEqual([
      { date: "2024-01-01", totalValueMinor: 100_000n },
      { date: "2024-01-06", totalValueMinor: 111_150n },
    ]);
  });

  test("a symbol with no close yet is valued at its last fill price", () => {
    const { points } = performanceSeries({
      initialCashMinor: 10_000n,
      // 2 BBB @ $50.00 (10,000 cents) on Jan 2; the first BBB close, $55.00, is on Jan 4.
      ledger: [{ date: "2024-01-02", symbol: "BBB", quantityDelta: 2n, cashDeltaMinor: -10_000n, priceMicros: 50_000_000n }],
      closes: new Map([["BBB", [{ date: "2024-01-04", closeMicros: 55_000_000n }]]]),
      days: ["2024-01-02", "2024-01-03", "2024-01-04"],
    });
    expect(points.map((p) => p.totalValueMinor)).toEqual([10_000n, 10_000n, 11_000n]);
  });

  test("the total return is 0 with fewer than two points", () => {
    expect(totalReturnOf([])).toBe(0);
    expect(totalReturnOf([{ date: "2024-01-01", totalValueMinor: 5n }])).toBe(0);
  });
});

describe("calendar", () => {
  test("without closes, the days are the weekdays", () => {
    // Fri 5 Jan 2024 .. Mon 8 Jan 2024
    expect(tradingDays("2024-01-05", "2024-01-08", new Map())).toEqual(["2024-01-05", "2024-01-08"]);
    expect(weekdays("2024-01-08", "2024-01-05")).toEqual([]);
  });

  test("date arithmetic across months and leap days", () => {
    expect(addDays("2024-02-28", 1)).toBe("2024-02-29");
    expect(addDays("2024-03-01", -1)).toBe("2024-02-29");
    expect(daysBetween("2023-12-31", "2024-03-01")).toBe(61);
  });
});
