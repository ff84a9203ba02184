/**
 * The performance series: an account's total value at each day's close, rebuilt from the ledger
 * of applied fills (what was held, and the cash, at the end of each day) and the symbols' closes.
 * Pure.
 */
import { amountMinor } from "./money.js";

/** One applied fill as the ledger keeps it. */
export interface LedgerEntry {
  /** The fill's day, "YYYY-MM-DD" (UTC). */
  readonly date: string;
  readonly symbol: string;
  /** Shares added (> 0) or removed (< 0). */
  readonly quantityDelta: bigint;
  readonly cashDeltaMinor: bigint;
  /** The execution price: the fallback value of the shares before any close is known. */
  readonly priceMicros: bigint;
}

/** A symbol's close on one day. */
export interface Close {
  readonly date: string;
  readonly closeMicros: bigint;
}

/** The account's value at one day's close. */
export interface PerformancePoint {
  readonly date: string;
  readonly totalValueMinor: bigint;
}

/** What the series is built from. */
export interface SeriesInput {
  readonly initialCashMinor: bigint;
  /** Every applied fill up to the last day, oldest first. */
  readonly ledger: ReadonlyArray<LedgerEntry>;
  /** Each symbol's closes, oldest first; the latest close on or before a day values that day. */
  readonly closes: ReadonlyMap<string, ReadonlyArray<Close>>;
  /** The days to value, oldest first. */
  readonly days: ReadonlyArray<string>;
}

/**
 * The value (cash + shares at the close) at the end of each day. Shares are valued at the latest
 * close on or before the day; a symbol with none yet is valued at its latest fill price.
 */
export function performanceSeries(input: SeriesInput): { points: PerformancePoint[]; totalReturn: number } {
  const held = new Map<string, bigint>();
  const lastFillPrice = new Map<string, bigint>();
  const closeCursor = new Map<string, number>();
  let cash = input.initialCashMinor;
  let next = 0;
  const points: PerformancePoint[] = [];
  for (const day of input.days) {
    for (; next < input.ledger.length && input.ledger[next]!.date <= day; next++) {
      const entry = input.ledger[next]!;
      cash += entry.cashDeltaMinor;
      held.set(entry.symbol, (held.get(entry.symbol) ?? 0n) + entry.quantityDelta);
      lastFillPrice.set(entry.symbol, entry.priceMicros);
    }
    let value = cash;
    for (const [symbol, quantity] of held) {
      if (quantity === 0n) continue;
      const price = closeOnOrBefore(input.closes.get(symbol) ?? [], day, closeCursor, symbol) ?? lastFillPrice.get(symbol) ?? 0n;
      value += amountMinor(quantity, price);
    }
    points.push({ date: day, totalValueMinor: value });
  }
  return { points, totalReturn: totalReturnOf(points) };
}

/** Last value over first, minus 1; 0 with fewer than two points or a first value that is not positive. */
export function totalReturnOf(points: ReadonlyArray<PerformancePoint>): number {
  const first = points[0];
  const last = points.at(-1);
  if (first === undefined || last === undefined || first.totalValueMinor <= 0n) return 0;
  return Number(last.totalValueMinor - first.totalValueMinor) / Number(first.totalValueMinor);
}

/**
 * The days to value from..to: every date some held symbol has a close on; weekdays when there are
 * none (an account that held nothing has no calendar of its own).
 */
export function tradingDays(from: string, to: string, closes: ReadonlyMap<string, ReadonlyArray<Close>>): string[] {
  const dates = new Set<string>();
  for (const list of closes.values()) for (const c of list) if (c.date >= from && c.date <= to) dates.add(c.date);
  if (dates.size > 0) return [...dates].sort();
  return weekdays(from, to);
}

/** Monday to Friday dates from..to, inclusive. */
export function weekdays(from: string, to: string): string[] {
  const days: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`), end = Date.parse(`${to}T00:00:00Z`); t <= end; t += 86_400_000) {
    const weekday = new Date(t).getUTCDay();
    if (weekday !== 0 && weekday !== 6) days.push(new Date(t).toISOString().slice(0, 10));
  }
  return days;
}

/** The date `days` days after `date` (before, when negative). */
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/** Days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

// Days come oldest first, so each symbol's cursor only moves forward: the series is linear.
function closeOnOrBefore(list: ReadonlyArray<Close>, day: string, cursors: Map<string, number>, symbol: string): bigint | undefined {
  let at = cursors.get(symbol) ?? -1;
  while (at + 1 < list.length && list[at + 1]!.date <= day) at++;
  cursors.set(symbol, at);
  return at >= 0 ? list[at]!.closeMicros : undefined;
}
