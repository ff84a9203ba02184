/**
 * The five components of a score: what each measures (window and formula, see
 * measures.ts), and how its value maps to a sub-score in [0, 100], higher better.
 *
 * Every mapping is the same clamped straight line through two anchors:
 *
 *   score = clamp(100 × (value − worst) / (best − worst), 0, 100)
 *
 * `worst` scores 0, `best` scores 100, halfway scores 50; for volatility and
 * drawdown `worst` is the larger value, so lower is better.
 */
import { annualisedVolatility, maxDrawdown, momentum, trendStrength } from "./measures.js";

/** The components, in the order of the Score message. */
export const componentNames = ["momentum3m", "momentum12m", "volatility", "maxDrawdown", "trendStrength"] as const;

/** One component's name. */
export type ComponentName = (typeof componentNames)[number];

/** The two anchors of a component's mapping. */
export interface Scale {
  /** The value that scores 0 (and anything worse). */
  readonly worst: number;
  /** The value that scores 100 (and anything better). */
  readonly best: number;
}

/** A component: how many closes it reads, how it measures them, how it scores the measure. */
export interface ComponentSpec {
  readonly closesNeeded: number;
  readonly measure: (closes: ReadonlyArray<number>) => number;
  readonly scale: Scale;
}

/** Trading-day windows of the components. */
export const windows = {
  momentum3m: 63,
  momentum12m: 252,
  volatility: 63,
  maxDrawdown: 252,
  trendShort: 50,
  trendLong: 200,
} as const;

/** Every component's window, measure and mapping. */
export const components: Readonly<Record<ComponentName, ComponentSpec>> = {
  // 3-month return: −30% scores 0, +30% scores 100.
  momentum3m: {
    closesNeeded: windows.momentum3m + 1,
    measure: (c) => momentum(c, windows.momentum3m),
    scale: { worst: -0.3, best: 0.3 },
  },
  // 12-month return: −60% scores 0, +60% scores 100.
  momentum12m: {
    closesNeeded: windows.momentum12m + 1,
    measure: (c) => momentum(c, windows.momentum12m),
    scale: { worst: -0.6, best: 0.6 },
  },
  // Annualised volatility of 63 daily returns: 60% or more scores 0, 10% or less scores 100.
  volatility: {
    closesNeeded: windows.volatility + 1,
    measure: (c) => annualisedVolatility(c, windows.volatility),
    scale: { worst: 0.6, best: 0.1 },
  },
  // Max drawdown over 252 trading days: a 50% fall or worse scores 0, no fall scores 100.
  maxDrawdown: {
    closesNeeded: windows.maxDrawdown + 1,
    measure: (c) => maxDrawdown(c, windows.maxDrawdown),
    scale: { worst: 0.5, best: 0 },
  },
  // SMA50 / SMA200 − 1: −20% scores 0, +20% scores 100.
  trendStrength: {
    closesNeeded: windows.trendLong,
    measure: (c) => trendStrength(c, windows.trendShort, windows.trendLong),
    scale: { worst: -0.2, best: 0.2 },
  },
};

/** Closes a series needs for every component: 253 (12-month momentum and drawdown read 252 daily moves). */
export const closesNeeded: number = Math.max(...componentNames.map((name) => components[name].closesNeeded));

/** The clamped line through (worst, 0) and (best, 100). */
export function linearScore(value: number, scale: Scale): number {
  const score = (100 * (value - scale.worst)) / (scale.best - scale.worst);
  return Math.min(100, Math.max(0, score));
}
