import { describe, expect, test } from "bun:test";
import { Regime } from "@meridian/sdk/market";
import { InsufficientHistory, type Score } from "@meridian/sdk/scoring";
import { scoreSeries, weigh, type Close } from "./score.js";

/** `count` closes of `price`, dated one day apart from 2024-01-01 (the dates only label the last one). */
function series(closes: ReadonlyArray<number>): Close[] {
  const start = Date.UTC(2024, 0, 1);
  return closes.map((close, i) => ({ date: new Date(start + i * 86_400_000).toISOString().slice(0, 10), close }));
}

const flat = series(Array.from({ length: 253 }, () => 100));
// 252 closes at 100, then a 20% fall on the last day.
const shock = series([...Array.from({ length: 252 }, () => 100), 80]);

function scored(result: Score | InsufficientHistory): Score {
  if (result instanceof InsufficientHistory) throw result;
  return result;
}

describe("scores of constructed series, by hand", () => {
  test("a flat series: no momentum (50), no volatility or drawdown (100), no trend (50)", () => {
    const score = scored(scoreSeries("FLAT", flat, Regime.CRISIS));
    expect(score.momentum3m).toMatchObject({ value: 0, score: 50, weight: 0.05 });
    expect(score.momentum12m).toMatchObject({ value: 0, score: 50, weight: 0.05 });
    expect(score.volatility).toMatchObject({ value: 0, score: 100, weight: 0.35 });
    expect(score.maxDrawdown).toMatchObject({ value: 0, score: 100, weight: 0.4 });
    expect(score.trendStrength).toMatchObject({ value: 0, score: 50, weight: 0.15 });
    // Crisis: 0.05*50 + 0.05*50 + 0.35*100 + 0.40*100 + 0.15*50 = 2.5 + 2.5 + 35 + 40 + 7.5 = 87.5
    expect(score.composite).toBeCloseTo(87.5, 10);
    // Strong bull: 0.35*50 + 0.30*50 + 0.05*100 + 0.05*100 + 0.25*50 = 17.5 + 15 + 5 + 5 + 12.5 = 55
    expect(scored(scoreSeries("FLAT", flat, Regime.STRONG_BULL)).composite).toBeCloseTo(55, 10);
    expect(score).toMatchObject({ symbol: "FLAT", regime: Regime.CRISIS, asOf: flat.at(-1)!.date });
  });

  test("a 20% fall on the last day", () => {
    const score = scored(scoreSeries("SHOCK", shock, Regime.CRISIS));
    // Momentum: 80/100 - 1 = -0.2 over both windows. 3m: 100 × (-0.2 + 0.3) / 0.6 = 16.667.
    // 12m: 100 × (-0.2 + 0.6) / 1.2 = 33.333.
    expect(score.momentum3m!.value).toBeCloseTo(-0.2, 12);
    expect(score.momentum3m!.score).toBeCloseTo(100 / 6, 10);
    expect(score.momentum12m!.score).toBeCloseTo(100 / 3, 10);
    // Volatility: 62 returns of 0 and one of -0.2. Σ(r - mean)² = Σr² - n·mean² = 0.04 - 0.04/63 = 0.04·62/63;
    // / 62 = 0.04/63; sd = 0.2/sqrt(63); × sqrt(252) = 0.2 × sqrt(4) = 0.4 → 100 × (0.4 - 0.6)/(0.1 - 0.6) = 40.
    expect(score.volatility!.value).toBeCloseTo(0.4, 12);
    expect(score.volatility!.score).toBeCloseTo(40, 10);
    // Drawdown 0.2 → 100 × (1 - 0.2/0.5) = 60.
    expect(score.maxDrawdown!.value).toBeCloseTo(0.2, 12);
    expect(score.maxDrawdown!.score).toBeCloseTo(60, 10);
    // Trend: SMA50 = (49×100 + 80)/50 = 99.6, SMA200 = (199×100 + 80)/200 = 99.9; 99.6/99.9 - 1 = -0.003003;
    // → 100 × (-0.003003 + 0.2)/0.4 = 49.2492.
    expect(score.trendStrength!.value).toBeCloseTo(99.6 / 99.9 - 1, 12);
    expect(score.trendStrength!.score).toBeCloseTo(49.2492, 3);
    // Crisis: 0.05×16.667 + 0.05×33.333 + 0.35×40 + 0.40×60 + 0.15×49.2492
    //       = 0.8333 + 1.6667 + 14 + 24 + 7.3874 = 47.8874
    expect(score.composite).toBeCloseTo(47.8874, 3);
    // Strong bull: 0.35×16.667 + 0.30×33.333 + 0.05×40 + 0.05×60 + 0.25×49.2492
    //            = 5.8333 + 10 + 2 + 3 + 12.3123 = 33.1456
    expect(scored(scoreSeries("SHOCK", shock, Regime.STRONG_BULL)).composite).toBeCloseTo(33.1456, 3);
  });

  test("only the last 253 closes count", () => {
    const longer = series([1, 500, 3, ...shock.map((c) => c.close)]);
    expect(scored(scoreSeries("SHOCK", longer, Regime.BEAR)).composite).toBeCloseTo(
      scored(scoreSeries("SHOCK", shock, Regime.BEAR)).composite,
      12,
    );
  });

  test("a score weighed again under another regime equals one computed under it", () => {
    const underCrisis = scored(scoreSeries("SHOCK", shock, Regime.CRISIS));
    const reweighed = weigh(underCrisis, Regime.NORMAL_BULL);
    expect(reweighed).toEqual(scored(scoreSeries("SHOCK", shock, Regime.NORMAL_BULL)));
    expect(reweighed.regime).toBe(Regime.NORMAL_BULL);
  });

  test("252 closes are too few: InsufficientHistory names the symbol, 253 needed and 252 available", () => {
    const result = scoreSeries("NEW", flat.slice(1), Regime.SIDEWAYS);
    expect(result).toBeInstanceOf(InsufficientHistory);
    expect((result as InsufficientHistory).fields).toEqual({ symbol: "NEW", barsNeeded: 253, barsAvailable: 252 });
    expect((scoreSeries("EMPTY", [], Regime.SIDEWAYS) as InsufficientHistory).barsAvailable).toBe(0);
  });
});
