/**
 * The measures the market regime is classified from, computed from closing prices (oldest
 * first). All are fractions, not percents; volatilities are annualised over 252 trading days.
 */

/** The indicators of one reading, as RegimeIndicators carries them. */
export interface Indicators {
  readonly volatility20d: number;
  readonly volatility60d: number;
  readonly trend50200: number;
  readonly drawdownFromPeak: number;
  readonly breadth: number;
  readonly return60d: number;
}

/** Index closes needed for a reading: the 200-day moving average is the longest window. */
export const minIndexCloses = 200;

/** Constituents' closes a symbol needs to count in breadth (its own 200-day average). */
export const breadthWindow = 200;

/** Breadth reported when no constituent has enough history to count: neither side. */
export const neutralBreadth = 0.5;

const tradingDaysPerYear = 252;

/**
 * The indicators as of the last close of `index`. `peak` is the highest index close ever
 * recorded (at least the highest of `index`); `constituents` are each symbol's closes up to
 * the same day (only those with 200 or more count in breadth), or the breadth already counted.
 * Needs `minIndexCloses` closes.
 */
export function indicatorsOf(
  index: ReadonlyArray<number>,
  constituents: ReadonlyArray<ReadonlyArray<number>> | number,
  peak = maxOf(index),
): Indicators {
  if (index.length < minIndexCloses) throw new RangeError(`need ${minIndexCloses} index closes, got ${index.length}`);
  const last = index[index.length - 1]!;
  return {
    volatility20d: realisedVolatility(index, 20),
    volatility60d: realisedVolatility(index, 60),
    trend50200: mean(index, 50) / mean(index, 200) - 1,
    drawdownFromPeak: Math.max(0, 1 - last / Math.max(peak, last)),
    breadth: typeof constituents === "number" ? constituents : breadthOf(constituents),
    return60d: last / index[index.length - 61]! - 1,
  };
}

/** Annualised standard deviation of the last `days` daily log returns. */
export function realisedVolatility(closes: ReadonlyArray<number>, days: number): number {
  const end = closes.length - 1;
  const returns: number[] = [];
  for (let i = end - days + 1; i <= end; i++) returns.push(Math.log(closes[i]! / closes[i - 1]!));
  const average = returns.reduce((a, b) => a + b, 0) / returns.length;
  const variance = returns.reduce((a, r) => a + (r - average) ** 2, 0) / (returns.length - 1);
  return Math.sqrt(variance * tradingDaysPerYear);
}

/** Fraction of constituents whose last close is above their own 200-day moving average. */
export function breadthOf(constituents: ReadonlyArray<ReadonlyArray<number>>): number {
  const counted = constituents.filter((closes) => closes.length >= breadthWindow);
  if (counted.length === 0) return neutralBreadth;
  const above = counted.filter((closes) => closes[closes.length - 1]! > mean(closes, breadthWindow)).length;
  return above / counted.length;
}

/** The mean of the last `days` values. */
export function mean(values: ReadonlyArray<number>, days: number): number {
  let sum = 0;
  for (let i = values.length - days; i < values.length; i++) sum += values[i]!;
  return sum / days;
}

function maxOf(values: ReadonlyArray<number>): number {
  let max = -Infinity;
  for (const value of values) if (value > max) max = value;
  return max;
}
