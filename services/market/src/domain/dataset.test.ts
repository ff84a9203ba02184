import { describe, expect, test } from "bun:test";
import { Regime } from "@meridian/sdk/market";
import { indexSymbol, validateBars } from "./bars.js";
import { generateDataset, type Series } from "./dataset.js";
import { datasetSecurities } from "./dataset-symbols.js";
import { regimeChanges } from "./history.js";
import { realisedVolatility } from "./indicators.js";

const dataset = generateDataset();
const closes = (s: Series) => s.bars.map((b) => Number(b.closeMicros) / 1e6);
const dated = (s: Series) => ({ dates: s.bars.map((b) => b.date), closes: closes(s) });
const between = (s: Series, from: string, to: string) => s.bars.filter((b) => b.date >= from && b.date <= to).map((b) => Number(b.closeMicros));

describe("the shipped dataset", () => {
  test("is the same on every generation", () => {
    const again = generateDataset();
    expect(again.index.bars).toEqual(dataset.index.bars);
    expect(again.securities[7]!.bars).toEqual(dataset.securities[7]!.bars);
    expect(generateDataset({ seed: 1 }).index.bars[300]).not.toEqual(dataset.index.bars[300]);
  });

  test("covers every dataset security and the index over more than five years of trading days", () => {
    expect(dataset.securities.map((s) => s.symbol)).toEqual(datasetSecurities.map((s) => s.symbol));
    expect(dataset.index.symbol).toBe(indexSymbol);
    expect(dataset.days.length).toBeGreaterThan(5 * 252);
    for (const s of [...dataset.securities, dataset.index]) expect(s.bars.length).toBe(dataset.days.length);
  });

  test("every bar passes the ingest rules", () => {
    for (const s of [...dataset.securities, dataset.index]) {
      for (let at = 0; at < s.bars.length; at += 5000) expect(validateBars(s.bars.slice(at, at + 5000))).toEqual([]);
    }
  });

  test("the index moves by the average of its securities' daily returns", () => {
    for (const t of [1, 500, 1200]) {
      const average = dataset.securities.reduce((sum, s) => sum + closes(s)[t]! / closes(s)[t - 1]! - 1, 0) / dataset.securities.length;
      const index = closes(dataset.index);
      expect(index[t]! / index[t - 1]! - 1).toBeCloseTo(average, 4);
    }
  });

  test("volatility clusters: the 2020 crash is several times as volatile as the calm before it", () => {
    const index = closes(dataset.index);
    const day = (date: string) => dataset.days.findIndex((d) => d >= date);
    const calm = realisedVolatility(index.slice(0, day("2020-02-19") + 1), 20);
    const crash = realisedVolatility(index.slice(0, day("2020-03-20") + 1), 20);
    expect(crash).toBeGreaterThan(3 * calm);
  });

  test("drawdowns are correlated: nearly every security falls in the crash", () => {
    const fell = dataset.securities.filter((s) => {
      const window = between(s, "2020-02-19", "2020-03-23");
      return window[window.length - 1]! < window[0]!;
    });
    expect(fell.length).toBeGreaterThanOrEqual(datasetSecurities.length - 2);
  });

  test("its history passes through all five regimes", () => {
    const changes = regimeChanges(dated(dataset.index), dataset.securities.map(dated));
    const seen = new Set(changes.map((c) => c.regime));
    expect([...seen].sort()).toEqual([Regime.CRISIS, Regime.BEAR, Regime.SIDEWAYS, Regime.NORMAL_BULL, Regime.STRONG_BULL].sort());
    expect(changes.find((c) => c.regime === Regime.CRISIS)!.asOf < "2020-12-31").toBe(true);
  });
});
