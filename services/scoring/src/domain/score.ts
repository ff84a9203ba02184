/**
 * A security's score: its components measured on its closes (regime-free, so
 * they can be cached), then weighted by the regime's row of the weight table.
 *
 *   composite = Σ weight(regime, component) × subScore(component)   ∈ [0, 100]
 */
import { create } from "@bufbuild/protobuf";
import type { Regime } from "@meridian/sdk/market";
import { ComponentSchema, InsufficientHistory, ScoreSchema, type Component, type Score } from "@meridian/sdk/scoring";
import { closesNeeded, componentNames, components, linearScore, type ComponentName } from "./components.js";
import { weightsFor } from "./weights.js";

/** One day's close, as the score reads it. */
export interface Close {
  /** "YYYY-MM-DD" */
  readonly date: string;
  /** In currency units (micros / 1e6): only ratios of closes are used. */
  readonly close: number;
}

/**
 * Scores a series of closes (oldest first) under a regime's weights; a series
 * shorter than {@link closesNeeded} is InsufficientHistory naming what it needs and has.
 */
export function scoreSeries(symbol: string, series: ReadonlyArray<Close>, regime: Regime): Score | InsufficientHistory {
  if (series.length < closesNeeded) {
    return new InsufficientHistory({ symbol, barsNeeded: closesNeeded, barsAvailable: series.length });
  }
  const closes = series.map((c) => c.close);
  const measured = Object.fromEntries(
    componentNames.map((name) => {
      const value = components[name].measure(closes);
      return [name, create(ComponentSchema, { value, score: linearScore(value, components[name].scale) })];
    }),
  ) as Record<ComponentName, Component>;
  return weigh(create(ScoreSchema, { symbol, asOf: series.at(-1)!.date, ...measured }), regime);
}

/**
 * The score with the weights of `regime` and the composite they give: a cached
 * score is re-weighted on every read, so a regime change never serves old weights.
 */
export function weigh(score: Score, regime: Regime): Score {
  const weights = weightsFor(regime);
  let composite = 0;
  const weighted: Partial<Record<ComponentName, Component>> = {};
  for (const name of componentNames) {
    const component = score[name] ?? create(ComponentSchema);
    composite += weights[name] * component.score;
    weighted[name] = create(ComponentSchema, { value: component.value, score: component.score, weight: weights[name] });
  }
  return create(ScoreSchema, {
    symbol: score.symbol,
    asOf: score.asOf,
    regime,
    ...weighted,
    // Sums of fractions can land a hair outside the range.
    composite: Math.min(100, Math.max(0, composite)),
  });
}

/** Best first; ties by symbol, so rankings are stable. */
export function byCompositeDescending(a: Score, b: Score): number {
  return b.composite - a.composite || (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0);
}
