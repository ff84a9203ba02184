/**
 * The rules of scoring requests, as pure functions: each broken rule is a
 * field violation named by its proto path (`symbols[3]`, `top_n`).
 */
import { Sector } from "@meridian/sdk/universe";

/** One broken rule. */
export interface Violation {
  readonly field: string;
  readonly description: string;
}

/** Most symbols in one BatchScore, and most securities RankUniverse returns. */
export const maxSymbols = 500;

/** Ticker symbols, as the universe service defines them: an upper-case letter, then up to 9 upper-case letters, digits or dots. */
export const symbolPattern = /^[A-Z][A-Z0-9.]{0,9}$/;

/** The rule a symbol breaks, if any. */
export function checkSymbol(symbol: string, field: string): Violation[] {
  return symbolPattern.test(symbol)
    ? []
    : [{ field, description: `must match ${symbolPattern.source} (got ${JSON.stringify(symbol.slice(0, 40))})` }];
}

/** Every rule a BatchScore symbol list breaks: 1 to 500 symbols, each valid, none repeated. */
export function checkSymbols(symbols: ReadonlyArray<string>, field = "symbols"): Violation[] {
  const violations: Violation[] = [];
  if (symbols.length === 0) violations.push({ field, description: `must hold 1 to ${maxSymbols} symbols (got none)` });
  if (symbols.length > maxSymbols) {
    violations.push({ field, description: `must hold at most ${maxSymbols} symbols (got ${symbols.length})` });
  }
  const firstAt = new Map<string, number>();
  symbols.forEach((symbol, i) => {
    violations.push(...checkSymbol(symbol, `${field}[${i}]`));
    const seen = firstAt.get(symbol);
    if (seen === undefined) firstAt.set(symbol, i);
    else violations.push({ field: `${field}[${i}]`, description: `repeats ${field}[${seen}] (${JSON.stringify(symbol.slice(0, 40))})` });
  });
  return violations;
}

/** The filters of RankUniverse, checked: top_n in 1..500, sector unset or a known sector. */
export function checkRanking(request: { readonly topN: number; readonly sector: Sector }): Violation[] {
  return [
    ...(Number.isInteger(request.topN) && request.topN >= 1 && request.topN <= maxSymbols
      ? []
      : [{ field: "top_n", description: `must be 1 to ${maxSymbols} (got ${request.topN})` }]),
    ...(request.sector === Sector.UNSPECIFIED || Sector[request.sector] !== undefined
      ? []
      : [{ field: "sector", description: `must be a known sector, or unset for all (got ${request.sector})` }]),
  ];
}
