/**
 * The shipped market dataset: daily OHLCV bars for every dataset security and for the index,
 * from a seeded generator, so every install has the same seven years of history.
 *
 * Model (daily log returns):
 * - a market factor with a drift and a target volatility set by a schedule of phases (calm,
 *   trending, crisis, bear, sideways…) and GARCH(1,1) volatility clustering around the target;
 *   its level is pulled gently towards the path the drifts plan, so each phase shows;
 *   a phase that raises the target raises volatility at once (crises start abruptly), one that
 *   lowers it lets it decay (calm returns slowly);
 * - a factor per sector (its own drift, volatility tied to the market's), so drawdowns correlate
 *   within sectors and across the market;
 * - each security: beta × market + its sector + idiosyncratic noise (also scaled by market
 *   volatility).
 * The index (`indexSymbol`) is the equal-weighted average of the securities' daily returns,
 * starting at 1,000; its volume is theirs summed.
 */
import { Sector } from "@meridian/sdk/universe";
import { indexSymbol, type DailyBar } from "./bars.js";
import { datasetSecurities } from "./dataset-symbols.js";
import { weekdaysBetween } from "./dates.js";
import { seededRandom, type Random } from "./random.js";

/** One symbol's bars, oldest first. */
export interface Series {
  readonly symbol: string;
  readonly bars: ReadonlyArray<DailyBar>;
}

/** The generated dataset: the trading days, each security's series and the index's. */
export interface Dataset {
  readonly days: ReadonlyArray<string>;
  readonly securities: ReadonlyArray<Series>;
  readonly index: Series;
}

/** What the generator is fixed by. */
export interface DatasetOptions {
  readonly seed?: number;
  readonly firstDay?: string;
  readonly lastDay?: string;
}

/** The defaults that make the shipped dataset. */
export const shippedDataset = { seed: 20_200_101, firstDay: "2019-01-01", lastDay: "2025-12-31" } as const;

/** A stretch of market behaviour from `from` until the next phase: annualised drift and volatility. */
interface Phase {
  readonly from: string;
  readonly drift: number;
  readonly volatility: number;
}

// The market's story: calm, a crash, a trending recovery, a bear year, sideways, shocks, bulls.
const phases: ReadonlyArray<Phase> = [
  { from: "2019-01-01", drift: 0.15, volatility: 0.12 },
  { from: "2020-02-20", drift: -4.5, volatility: 0.75 }, // crash
  { from: "2020-03-24", drift: 0.7, volatility: 0.35 }, // rebound
  { from: "2020-06-15", drift: 0.28, volatility: 0.15 }, // trending bull
  { from: "2021-09-01", drift: 0.0, volatility: 0.13 }, // sideways
  { from: "2022-01-03", drift: -0.35, volatility: 0.24 }, // bear
  { from: "2022-10-17", drift: 0.05, volatility: 0.17 }, // base building
  { from: "2023-03-08", drift: -1.6, volatility: 0.45 }, // banking shock
  { from: "2023-03-24", drift: 0.3, volatility: 0.13 }, // normal bull
  { from: "2024-01-02", drift: 0.4, volatility: 0.1 }, // strong bull, calm
  { from: "2024-07-29", drift: -0.9, volatility: 0.32 }, // volatility spike
  { from: "2024-08-20", drift: 0.16, volatility: 0.13 }, // normal bull
  { from: "2025-03-03", drift: -0.02, volatility: 0.16 }, // sideways
  { from: "2025-06-02", drift: 0.14, volatility: 0.12 }, // normal bull
];

const sectorDrift: Partial<Record<Sector, number>> = {
  [Sector.TECHNOLOGY]: 0.06,
  [Sector.COMMUNICATION_SERVICES]: 0.03,
  [Sector.ENERGY]: 0.02,
  [Sector.UTILITIES]: -0.03,
  [Sector.REAL_ESTATE]: -0.03,
  [Sector.CONSUMER_STAPLES]: -0.02,
};

const daysPerYear = 252;
const garch = { alpha: 0.06, beta: 0.91 } as const;
// Pull of the market's level back towards the phases' planned path, per day: the story shows
// through whatever the seed, while the days stay random.
const anchorPerDay = 0.03;
const idiosyncraticVolatility = 0.18;
const sectorVolatilityShare = 0.45;

/** Generates the dataset; the same options always give the same bars. */
export function generateDataset(options: DatasetOptions = {}): Dataset {
  const { seed, firstDay, lastDay } = { ...shippedDataset, ...options };
  const random = seededRandom(seed);
  const days = weekdaysBetween(firstDay, lastDay);
  const market = marketReturns(days, random);
  const sectors = new Map<Sector, number[]>();
  for (const { sector } of datasetSecurities) {
    if (!sectors.has(sector)) sectors.set(sector, sectorReturns(market, sectorDrift[sector] ?? 0, random));
  }
  const securities = datasetSecurities.map(({ symbol, sector }) => securitySeries(symbol, market, sectors.get(sector)!, random));
  return { days, securities: securities.map((s) => ({ symbol: s.symbol, bars: s.bars })), index: indexSeries(securities, random) };
}

interface MarketPath {
  readonly days: ReadonlyArray<string>;
  readonly returns: ReadonlyArray<number>;
  /** The day's conditional volatility (daily), which scales every other part. */
  readonly sigma: ReadonlyArray<number>;
  readonly calmSigma: number;
}

function marketReturns(days: ReadonlyArray<string>, random: Random): MarketPath {
  const returns: number[] = [];
  const sigma: number[] = [];
  let phase = 0;
  let target = phases[0]!.volatility ** 2 / daysPerYear;
  let variance = target;
  let shock = 0;
  let planned = 0;
  let level = 0;
  for (const day of days) {
    while (phase + 1 < phases.length && day >= phases[phase + 1]!.from) {
      phase += 1;
      const next = phases[phase]!.volatility ** 2 / daysPerYear;
      if (next > variance) variance = next;
      target = next;
    }
    variance = (1 - garch.alpha - garch.beta) * target + garch.alpha * shock ** 2 + garch.beta * variance;
    const s = Math.sqrt(variance);
    shock = s * random.normal();
    const drift = phases[phase]!.drift / daysPerYear;
    const logReturn = drift + anchorPerDay * (planned - level) + shock;
    planned += drift;
    level += logReturn;
    returns.push(logReturn);
    sigma.push(s);
  }
  return { days, returns, sigma, calmSigma: 0.12 / Math.sqrt(daysPerYear) };
}

function sectorReturns(market: MarketPath, drift: number, random: Random): number[] {
  return market.sigma.map((s) => drift / daysPerYear + sectorVolatilityShare * s * random.normal());
}

interface GeneratedSeries extends Series {
  /** Each day's simple return and overnight gap, for the index. */
  readonly simpleReturns: ReadonlyArray<number>;
  readonly gaps: ReadonlyArray<number>;
  readonly ranges: ReadonlyArray<number>;
}

function securitySeries(symbol: string, market: MarketPath, sector: ReadonlyArray<number>, random: Random): GeneratedSeries {
  const beta = 0.7 + 0.7 * random.uniform();
  let close = 20 + 480 * random.uniform();
  const baseVolume = 1e6 * (1 + 30 * random.uniform());
  const bars: DailyBar[] = [];
  const simpleReturns: number[] = [];
  const gaps: number[] = [];
  const ranges: number[] = [];
  market.days.forEach((date, t) => {
    const stress = market.sigma[t]! / market.calmSigma;
    const dailyIdio = (idiosyncraticVolatility / Math.sqrt(daysPerYear)) * Math.sqrt(stress);
    const logReturn = beta * market.returns[t]! + sector[t]! + dailyIdio * random.normal();
    const daySigma = Math.abs(beta) * market.sigma[t]! + dailyIdio;
    const gap = 0.25 * logReturn + 0.1 * daySigma * random.normal();
    const open = close * Math.exp(gap);
    const next = close * Math.exp(logReturn);
    const range = Math.abs(random.normal()) * 0.5 * daySigma;
    simpleReturns.push(next / close - 1);
    gaps.push(open / close - 1);
    ranges.push(range);
    bars.push(toBar(date, open, next, range, Math.abs(random.normal()) * 0.5 * daySigma, baseVolume * stress ** 0.8 * Math.exp(0.25 * random.normal())));
    close = next;
  });
  return { symbol, bars, simpleReturns, gaps, ranges };
}

function indexSeries(securities: ReadonlyArray<GeneratedSeries>, random: Random): Series {
  const count = securities.length;
  let close = 1000;
  const days = securities[0]!.bars.map((b) => b.date);
  const bars = days.map((date, t) => {
    let ret = 0;
    let gap = 0;
    let range = 0;
    let volume = 0n;
    for (const s of securities) {
      ret += s.simpleReturns[t]! / count;
      gap += s.gaps[t]! / count;
      range += s.ranges[t]! / count;
      volume += s.bars[t]!.volume;
    }
    const open = close * (1 + gap);
    const next = close * (1 + ret);
    // Constituents' highs come at different moments: the index's range is a fraction of theirs.
    const bar = toBar(date, open, next, 0.5 * range, 0.5 * range * (0.5 + random.uniform()), 0);
    close = next;
    return { ...bar, volume };
  });
  return { symbol: indexSymbol, bars };
}

/** A bar from prices in currency units: high and low extend past open and close by the given log ranges. */
function toBar(date: string, open: number, close: number, upRange: number, downRange: number, volume: number): DailyBar {
  const openMicros = micros(open);
  const closeMicros = micros(close);
  const top = openMicros > closeMicros ? openMicros : closeMicros;
  const bottom = openMicros < closeMicros ? openMicros : closeMicros;
  const low = micros(Number(bottom) / 1e6 * Math.exp(-downRange));
  return {
    date,
    openMicros,
    highMicros: maxBig(top, micros((Number(top) / 1e6) * Math.exp(upRange))),
    lowMicros: low > 0n && low <= bottom ? low : bottom,
    closeMicros,
    volume: BigInt(Math.max(0, Math.round(volume))),
  };
}

function micros(price: number): bigint {
  return BigInt(Math.max(1, Math.round(price * 1e6)));
}

function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
