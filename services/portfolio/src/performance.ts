/**
 * GetPerformance: the account's value at each trading day's close from..to, rebuilt from the
 * ledger of applied fills and market's closes (bars) of every symbol it held.
 */
import { Effect } from "effect";
import { Unavailable } from "@meridian/kit";
import type { EffectClient } from "@meridian/sdk";
import type { Market } from "@meridian/sdk/market";
import { addDays, daysBetween, performanceSeries, tradingDays, type Close, type PerformancePoint } from "./domain/performance.js";
import type { PricesShape } from "./prices.js";
import type { AccountRow, PortfolioStoreShape } from "./store.js";

/** The longest range one call values (about ten years of days). */
export const maxRangeDays = 3_660;

// A close from before `from` values the first days when a symbol did not trade on them.
const lookbackDays = 14;

/**
 * The series for `account` over from..to (each "YYYY-MM-DD" or undefined for its default: the
 * opening day, the latest close). Market failing is Unavailable: closes cannot be guessed.
 */
export function accountPerformance(
  deps: { readonly store: PortfolioStoreShape; readonly prices: PricesShape; readonly market: EffectClient<typeof Market> },
  account: AccountRow,
  range: { readonly from: string | undefined; readonly to: string | undefined },
): Effect.Effect<{ points: PerformancePoint[]; totalReturn: number; from: string; to: string }, Unavailable> {
  return Effect.gen(function* () {
    const from = range.from ?? account.openedAt.toISOString().slice(0, 10);
    const ledger = yield* deps.store.ledger(account.accountId, range.to);
    const symbols = [...new Set(ledger.map((e) => e.symbol))].sort();
    const closes = new Map<string, Close[]>();
    let latestClose: string | undefined;
    if (symbols.length > 0) {
      const quotes = yield* deps.prices.quotes({ symbols }).pipe(
        Effect.catchTag("UnknownSymbols", () => Effect.succeed({ quotes: [] })),
        Effect.mapError(marketUnavailable),
      );
      latestClose = quotes.quotes.reduce<string | undefined>((max, q) => (max === undefined || q.date > max ? q.date : max), undefined);
      const to = range.to ?? latestClose ?? today();
      const barsFrom = addDays(from, -lookbackDays);
      // Data that ends before the range starts: no bars to ask for, the quotes carry the value.
      const bars = yield* Effect.forEach(
        symbols,
        (symbol) =>
          barsFrom > to
            ? Effect.succeed([symbol, [] as Close[]] as const)
            : deps.market.getBars({ symbol, from: barsFrom, to }).pipe(
                Effect.map((response) => response.bars.map((b): Close => ({ date: b.date, closeMicros: b.closeMicros }))),
                Effect.catchTag("UnknownSymbols", () => Effect.succeed([] as Close[])),
                Effect.mapError(marketUnavailable),
                Effect.map((list) => [symbol, list] as const),
              ),
        { concurrency: 8 },
      );
      // The quote is the latest close: it carries the value forward past the bars fetched.
      const quoteOf = new Map(quotes.quotes.map((q) => [q.symbol, q]));
      for (const [symbol, list] of bars) {
        const quote = quoteOf.get(symbol);
        const last = list.at(-1);
        if (quote !== undefined && quote.date <= to && (last === undefined || quote.date > last.date)) {
          list.push({ date: quote.date, closeMicros: quote.priceMicros });
        }
        closes.set(symbol, list);
      }
    }
    let to = range.to ?? latestClose ?? today();
    // The data may end before the account opened: value that one day, at the last closes known.
    if (to < from && range.to === undefined) to = from;
    let days = to < from ? [] : tradingDays(from, to, closes);
    if (days.length === 0 && to >= from) days = [to];
    const { points, totalReturn } = performanceSeries({ initialCashMinor: account.initialCashMinor, ledger, closes, days });
    return { points, totalReturn, from, to };
  });
}

/** True when from..to spans more days than one call values. */
export function rangeTooLong(from: string, to: string): boolean {
  return daysBetween(from, to) > maxRangeDays;
}

function marketUnavailable(error: { readonly _tag: string; readonly message?: string }): Unavailable {
  return new Unavailable({ reason: `market data unavailable (${error._tag})` });
}

function today(): string {
  return new Date().toISOString().slice(0, 10);
}
