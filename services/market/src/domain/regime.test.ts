import { describe, expect, test } from "bun:test";
import { Regime } from "@meridian/sdk/market";
import { breadthOf, indicatorsOf, realisedVolatility, type Indicators } from "./indicators.js";
import { classify, hysteresisBand } from "./regime.js";

/** Closes from 100 by the given daily returns. */
function path(returns: ReadonlyArray<number>): number[] {
  const closes = [100];
  for (const r of returns) closes.push(closes[closes.length - 1]! * (1 + r));
  return closes;
}

/** `days` daily returns of `drift`, with `wiggle` added and subtracted on alternate days. */
function steady(days: number, drift: number, wiggle = 0): number[] {
  return Array.from({ length: days }, (_, i) => drift + (i % 2 === 0 ? wiggle : -wiggle));
}

const reading = (index: number[], constituents: number[][] = [index]) => {
  const indicators = indicatorsOf(index, constituents);
  return { indicators, ...classify(indicators) };
};

describe("regime per constructed series", () => {
  test("a steady, calm, broad rise is a strong bull", () => {
    const index = path(steady(260, 0.0015, 0.003));
    const { regime, confidence, indicators } = reading(index);
    expect(regime).toBe(Regime.STRONG_BULL);
    expect(indicators.trend50200).toBeGreaterThan(0.05);
    expect(indicators.breadth).toBe(1);
    expect(confidence).toBeGreaterThan(0.5);
  });

  test("a gentle rise with half the market above its average is a normal bull", () => {
    const index = path(steady(260, 0.0005, 0.002));
    const falling = path(steady(260, -0.0005, 0.002));
    const { regime, indicators } = reading(index, [index, falling]);
    expect(indicators.breadth).toBe(0.5);
    expect(indicators.trend50200).toBeGreaterThan(0.01);
    expect(indicators.trend50200).toBeLessThan(0.05);
    expect(regime).toBe(Regime.NORMAL_BULL);
  });

  test("a flat, choppy market is sideways", () => {
    const index = path(steady(260, 0, 0.005));
    const { regime, confidence, indicators } = reading(index);
    expect(Math.abs(indicators.trend50200)).toBeLessThan(0.005);
    expect(regime).toBe(Regime.SIDEWAYS);
    expect(confidence).toBeGreaterThan(0.6);
  });

  test("a quiet slide of more than 15% from the peak is a bear market", () => {
    const index = path([...steady(200, 0, 0.002), ...steady(60, -0.003, 0.001)]);
    const { regime, indicators } = reading(index);
    expect(indicators.drawdownFromPeak).toBeGreaterThan(0.15);
    expect(indicators.volatility20d).toBeLessThan(0.1);
    expect(regime).toBe(Regime.BEAR);
  });

  test("a violent fall is a crisis, whatever the trend before", () => {
    const index = path([...steady(240, 0.0015, 0.002), ...Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? -0.06 : 0.03))]);
    const { regime, confidence, indicators } = reading(index);
    expect(indicators.volatility20d).toBeGreaterThan(0.45);
    expect(indicators.drawdownFromPeak).toBeGreaterThan(0.2);
    expect(regime).toBe(Regime.CRISIS);
    expect(confidence).toBe(1);
  });

  test("confidence is 0.5 on a threshold and grows past it, within [0, 1]", () => {
    const base: Indicators = { volatility20d: 0.45, volatility60d: 0.3, trend50200: 0, drawdownFromPeak: 0.05, breadth: 0.5, return60d: 0 };
    expect(classify(base)).toEqual({ regime: Regime.CRISIS, confidence: 0.5 });
    expect(classify({ ...base, volatility20d: 0.525 }).confidence).toBeCloseTo(0.75, 10);
    expect(classify({ ...base, volatility20d: 3 }).confidence).toBe(1);
  });
});

describe("hysteresis", () => {
  const nearBull: Indicators = { volatility20d: 0.12, volatility60d: 0.12, trend50200: 0.008, drawdownFromPeak: 0.03, breadth: 0.6, return60d: 0.01 };

  test("a reading just short of the previous regime's threshold keeps it", () => {
    expect(classify(nearBull).regime).toBe(Regime.SIDEWAYS);
    expect(classify(nearBull, Regime.NORMAL_BULL).regime).toBe(Regime.NORMAL_BULL);
  });

  test("a regime clearly left, or another clearly in, replaces it", () => {
    const gone = { ...nearBull, trend50200: 0.01 - 0.03 * (hysteresisBand + 0.05) };
    expect(classify(gone, Regime.NORMAL_BULL).regime).toBe(Regime.SIDEWAYS);
    expect(classify({ ...nearBull, volatility20d: 0.6 }, Regime.NORMAL_BULL).regime).toBe(Regime.CRISIS);
  });
});

describe("indicators", () => {
  test("constant returns have no volatility; alternating ones have a known one", () => {
    expect(realisedVolatility(path(steady(30, 0.01)), 20)).toBeCloseTo(0, 10);
    const up = Math.log(1.01);
    const down = Math.log(0.99);
    const m = (up + down) / 2;
    const expected = Math.sqrt(((10 * (up - m) ** 2 + 10 * (down - m) ** 2) / 19) * 252);
    expect(realisedVolatility(path(steady(30, 0, 0.01)), 20)).toBeCloseTo(expected, 10);
  });

  test("breadth counts symbols above their 200-day average, ignoring short histories", () => {
    const rising = path(steady(210, 0.001));
    const falling = path(steady(210, -0.001));
    expect(breadthOf([rising, falling, rising])).toBeCloseTo(2 / 3, 10);
    expect(breadthOf([rising.slice(0, 50)])).toBe(0.5);
  });

  test("drawdown is measured from the peak given, and return over 60 days", () => {
    const index = path(steady(259, 0.001));
    const last = index[index.length - 1]!;
    const indicators = indicatorsOf(index, [], last * 2);
    expect(indicators.drawdownFromPeak).toBeCloseTo(0.5, 10);
    expect(indicators.return60d).toBeCloseTo(1.001 ** 60 - 1, 10);
  });
});
