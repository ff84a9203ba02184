/**
 * Regime-aware weights: one row per market regime, in whole percents so each
 * row visibly sums to 100. Calm, rising markets reward momentum and trend;
 * falling and crisis markets reward low volatility and shallow drawdowns.
 *
 * | regime       | mom 3m | mom 12m | volatility | max drawdown | trend |
 * |--------------|-------:|--------:|-----------:|-------------:|------:|
 * | crisis       |      5 |       5 |         35 |           40 |    15 |
 * | bear         |     10 |      10 |         25 |           30 |    25 |
 * | sideways     |     20 |      15 |         25 |           20 |    20 |
 * | normal bull  |     25 |      25 |         15 |           10 |    25 |
 * | strong bull  |     35 |      30 |          5 |            5 |    25 |
 * | unspecified  |     20 |      20 |         20 |           20 |    20 |
 *
 * "unspecified" is used when the market cannot classify its regime yet (too little history).
 */
import { Regime } from "@meridian/sdk/market";
import type { ComponentName } from "./components.js";

/** A row of the table: percents by component. */
export type WeightRow = Readonly<Record<ComponentName, number>>;

/** The table, in percents. */
export const weightPercents: Readonly<Record<Regime, WeightRow>> = {
  [Regime.CRISIS]: { momentum3m: 5, momentum12m: 5, volatility: 35, maxDrawdown: 40, trendStrength: 15 },
  [Regime.BEAR]: { momentum3m: 10, momentum12m: 10, volatility: 25, maxDrawdown: 30, trendStrength: 25 },
  [Regime.SIDEWAYS]: { momentum3m: 20, momentum12m: 15, volatility: 25, maxDrawdown: 20, trendStrength: 20 },
  [Regime.NORMAL_BULL]: { momentum3m: 25, momentum12m: 25, volatility: 15, maxDrawdown: 10, trendStrength: 25 },
  [Regime.STRONG_BULL]: { momentum3m: 35, momentum12m: 30, volatility: 5, maxDrawdown: 5, trendStrength: 25 },
  [Regime.UNSPECIFIED]: { momentum3m: 20, momentum12m: 20, volatility: 20, maxDrawdown: 20, trendStrength: 20 },
};

/** The weights (fractions summing to 1) for a regime; an unknown enum value gets the unspecified row. */
export function weightsFor(regime: Regime): WeightRow {
  const row = weightPercents[regime] ?? weightPercents[Regime.UNSPECIFIED];
  return {
    momentum3m: row.momentum3m / 100,
    momentum12m: row.momentum12m / 100,
    volatility: row.volatility / 100,
    maxDrawdown: row.maxDrawdown / 100,
    trendStrength: row.trendStrength / 100,
  };
}
