/**
 * The rules of daily bars and of the symbols and date ranges the API takes, as pure
 * functions. Each broken rule is a field violation named by its proto path
 * (`bars[3].high_micros`), so a caller can point at the exact value.
 */
import { isIsoDate } from "./dates.js";

/** One broken rule. */
export interface Violation {
  readonly field: string;
  readonly description: string;
}

/** A daily OHLCV bar: prices in micros, volume in shares. */
export interface DailyBar {
  readonly date: string;
  readonly openMicros: bigint;
  readonly highMicros: bigint;
  readonly lowMicros: bigint;
  readonly closeMicros: bigint;
  readonly volume: bigint;
}

/** Most bars one IngestBars call may carry. */
export const maxBarsPerCall = 10_000;

/** Most symbols one GetQuotes call may ask for. */
export const maxQuoteSymbols = 500;

/**
 * The market index's symbol. The caret keeps it apart from every security: universe symbols
 * must start with a letter, so no security can ever be called this.
 */
export const indexSymbol = "^MERIDIAN";

/** Security symbols, as the universe service allows them. */
export const symbolPattern = /^[A-Z][A-Z0-9.]{0,9}$/;

/** The rule a symbol breaks, if any: a security symbol or the index. */
export function checkSymbol(symbol: string, field: string): Violation[] {
  return symbol === indexSymbol || symbolPattern.test(symbol)
    ? []
    : [{ field, description: `must match ${symbolPattern.source} or be ${indexSymbol} (got ${quote(symbol)})` }];
}

/** The rule an optional date bound breaks, if any ("" means unbounded). */
export function checkOptionalDate(date: string, field: string): Violation[] {
  return date === "" || isIsoDate(date) ? [] : [{ field, description: `must be a calendar date "YYYY-MM-DD" (got ${quote(date)})` }];
}

/** The rules a from/to range breaks: each bound a date or empty, and from <= to. */
export function checkDateRange(from: string, to: string): Violation[] {
  const violations = [...checkOptionalDate(from, "from"), ...checkOptionalDate(to, "to")];
  if (violations.length === 0 && from !== "" && to !== "" && from > to) {
    violations.push({ field: "from", description: `must not be after to (${from} > ${to})` });
  }
  return violations;
}

/** Every rule a batch of bars breaks (empty when it is valid). */
export function validateBars(bars: ReadonlyArray<DailyBar>, field = "bars"): Violation[] {
  if (bars.length === 0) return [{ field, description: "must hold at least one bar" }];
  if (bars.length > maxBarsPerCall) {
    return [{ field, description: `must hold at most ${maxBarsPerCall} bars (got ${bars.length})` }];
  }
  const violations: Violation[] = [];
  let previousDate: string | undefined;
  bars.forEach((bar, i) => {
    const at = `${field}[${i}]`;
    if (!isIsoDate(bar.date)) {
      violations.push({ field: `${at}.date`, description: `must be a calendar date "YYYY-MM-DD" (got ${quote(bar.date)})` });
    } else {
      if (previousDate !== undefined && bar.date <= previousDate) {
        violations.push({ field: `${at}.date`, description: `must be after the previous bar's date ${previousDate} (dates strictly increasing)` });
      }
      previousDate = bar.date;
    }
    violations.push(...checkPrices(bar, at));
    if (bar.volume < 0n) violations.push({ field: `${at}.volume`, description: `must be >= 0 (got ${bar.volume})` });
  });
  return violations;
}

function checkPrices(bar: DailyBar, at: string): Violation[] {
  const violations: Violation[] = [];
  const prices = [
    ["open_micros", bar.openMicros],
    ["high_micros", bar.highMicros],
    ["low_micros", bar.lowMicros],
    ["close_micros", bar.closeMicros],
  ] as const;
  for (const [name, value] of prices) {
    if (value <= 0n) violations.push({ field: `${at}.${name}`, description: `must be > 0 (got ${value})` });
  }
  // Against a price that is itself wrong, the high/low rules would only repeat the error.
  if (violations.length > 0) return violations;
  const top = bar.openMicros > bar.closeMicros ? bar.openMicros : bar.closeMicros;
  const bottom = bar.openMicros < bar.closeMicros ? bar.openMicros : bar.closeMicros;
  if (bar.highMicros < top) {
    violations.push({ field: `${at}.high_micros`, description: `must be >= max(open, close) = ${top} (got ${bar.highMicros})` });
  }
  if (bar.lowMicros > bottom) {
    violations.push({ field: `${at}.low_micros`, description: `must be <= min(open, close) = ${bottom} (got ${bar.lowMicros})` });
  }
  return violations;
}

function quote(text: string): string {
  return JSON.stringify(text.slice(0, 40));
}
