/**
 * The measures a score is made of, from a series of closes (oldest first), as
 * pure functions over the last N closes. Each one asks for exactly the closes
 * it reads; a shorter series is a bug in the caller (the score model checks
 * lengths first), so it throws RangeError rather than returning a made-up value.
 */

/** Trading days in a year: annualises daily volatility. */
export const tradingDaysPerYear = 252;

/** Return over the last `lookback` trading days: close[last] / close[last - lookback] - 1. Needs lookback + 1 closes. */
export function momentum(closes: ReadonlyArray<number>, lookback: number): number {
  need(closes, lookback + 1, "momentum");
  const last = closes.length - 1;
  return closes[last]! / closes[last - lookback]! - 1;
}

/**
 * Annualised volatility of the last `days` simple daily returns (r = c[i] / c[i-1] - 1):
 * their sample standard deviation (n - 1 in the denominator) times sqrt(252). Needs days + 1 closes.
 */
export function annualisedVolatility(closes: ReadonlyArray<number>, days: number): number {
  need(closes, days + 1, "volatility");
  if (days < 2) throw new RangeError("volatility needs at least 2 returns");
  const start = closes.length - days;
  const returns: number[] = [];
  for (let i = start; i < closes.length; i++) returns.push(closes[i]! / closes[i - 1]! - 1);
  const mean = returns.reduce((sum, r) => sum + r, 0) / days;
  const variance = returns.reduce((sum, r) => sum + (r - mean) ** 2, 0) / (days - 1);
  return Math.sqrt(variance) * Math.sqrt(tradingDaysPerYear);
}

/**
 * Largest peak-to-trough fall over the last `days` trading days (the last days + 1 closes),
 * as a fraction of the peak: 0 when the series never fell below a running high. Needs days + 1 closes.
 */
export function maxDrawdown(closes: ReadonlyArray<number>, days: number): number {
  need(closes, days + 1, "max drawdown");
  let peak = Number.NEGATIVE_INFINITY;
  let worst = 0;
  for (let i = closes.length - days - 1; i < closes.length; i++) {
    const close = closes[i]!;
    if (close > peak) peak = close;
    worst = Math.max(worst, 1 - close / peak);
  }
  return worst;
}

/** Mean of the last `length` closes. */
export function movingAverage(closes: ReadonlyArray<number>, length: number): number {
  need(closes, length, "moving average");
  let sum = 0;
  for (let i = closes.length - length; i < closes.length; i++) sum += closes[i]!;
  return sum / length;
}

/** Trend strength: the `short`-day over the `long`-day moving average, minus 1. Needs `long` closes. */
export function trendStrength(closes: ReadonlyArray<number>, short: number, long: number): number {
  return movingAverage(closes, short) / movingAverage(closes, long) - 1;
}

function need(closes: ReadonlyArray<number>, count: number, what: string): void {
  if (closes.length < count) throw new RangeError(`${what} needs ${count} closes, got ${closes.length}`);
}
