/**
 * The prices positions are valued at: market's latest quotes, kept in memory for up to
 * PORTFOLIO_QUOTE_TTL_MS and dropped as soon as market ingests bars for the symbol (its
 * `meridian.market.bars.ingested`, followed live); or, when market cannot answer in time, the last
 * prices this service knows, marked stale. A portfolio read never fails because market is down: a
 * user still sees cash and positions, and callers that only need to know the account exists
 * (trading) are not stopped by a market outage.
 */
import { Context, Effect, Layer, Stream } from "effect";
import { writeLogLine } from "@meridian/kit";
import { ServiceClient } from "@meridian/kit/client";
import { defineEvent, tail, type EventBus } from "@meridian/kit/events";
import type { EffectClient } from "@meridian/sdk";
import { BarsIngestedSchema, Market } from "@meridian/sdk/market";
import type { Price } from "./domain/valuation.js";
import type { PositionRow } from "./store.js";

/** Prices by symbol, and whether any is not a fresh quote. */
export interface Pricing {
  readonly prices: ReadonlyMap<string, Price>;
  readonly stale: boolean;
}

/** What the handlers ask for prices. */
export interface PricesShape {
  /** Prices for every position: quotes (cached while fresh), or the last known ones (stale) when market fails or is slow. */
  readonly forPositions: (positions: ReadonlyArray<PositionRow>) => Effect.Effect<Pricing>;
  /** Latest quotes of the symbols from market (its errors pass through), remembered. */
  readonly quotes: EffectClient<typeof Market>["getQuotes"];
}

/** The market client of this service. */
export const MarketClient = ServiceClient(Market);

/** Market's notice that a symbol's bars changed: its quote may have. */
export const BarsIngestedEvent = defineEvent("meridian.market.bars.ingested", BarsIngestedSchema);

/** Prices for the portfolio. */
export class Prices extends Context.Service<Prices, PricesShape>()("@meridian/portfolio/Prices") {}

/** How long to wait for quotes, and how long one stays fresh. */
export interface PricesOptions {
  readonly quoteTimeoutMs: number;
  readonly quoteTtlMs: number;
}

interface Known {
  readonly price: Price;
  /** When it was fetched; 0 once bars were ingested for the symbol since (known, no longer fresh). */
  fetchedAt: number;
}

/** Prices from the market client in context, with this process's memory of the quotes seen. */
export const layerPrices = (options: PricesOptions): Layer.Layer<Prices, never, EffectClient<typeof Market> | EventBus> =>
  Layer.effect(
    Prices,
    Effect.gen(function* () {
      const market = yield* Effect.service(MarketClient);
      const known = new Map<string, Known>();
      // Bumped per symbol by each BarsIngested: a fetch that started before it must not be taken as fresh.
      const generation = new Map<string, number>();
      yield* Effect.forkScoped(
        Stream.runForEach(tail(BarsIngestedEvent), (event) =>
          Effect.sync(() => {
            const symbol = event.payload.symbol;
            generation.set(symbol, (generation.get(symbol) ?? 0) + 1);
            const entry = known.get(symbol);
            if (entry !== undefined) entry.fetchedAt = 0;
          }),
        ),
      );
      let degraded = false;
      const quotes: PricesShape["quotes"] = (request, callOptions) => {
        const startedAt = Date.now();
        const asked = request.symbols ?? [];
        const generations = asked.map((s) => generation.get(s) ?? 0);
        return Effect.tap(market.getQuotes(request, callOptions), (response) =>
          Effect.sync(() => {
            for (const q of response.quotes) {
              const at = asked.indexOf(q.symbol);
              const current = known.get(q.symbol);
              if (current !== undefined && current.price.date > q.date) continue;
              const unchanged = at >= 0 && (generation.get(q.symbol) ?? 0) === generations[at];
              known.set(q.symbol, { price: { priceMicros: q.priceMicros, date: q.date }, fetchedAt: unchanged ? startedAt : 0 });
            }
          }),
        );
      };
      const fresh = (symbol: string, now: number) => {
        const entry = known.get(symbol);
        return entry !== undefined && entry.fetchedAt > 0 && now - entry.fetchedAt < options.quoteTtlMs ? entry.price : undefined;
      };
      return {
        quotes,
        forPositions: (positions) => {
          const now = Date.now();
          const prices = new Map<string, Price>();
          for (const p of positions) {
            const price = fresh(p.symbol, now);
            if (price !== undefined) prices.set(p.symbol, price);
          }
          const missing = positions.filter((p) => !prices.has(p.symbol));
          if (missing.length === 0) return Effect.succeed({ prices, stale: false });
          return quotes({ symbols: missing.map((p) => p.symbol) }, { timeoutMs: options.quoteTimeoutMs }).pipe(
            Effect.map((response): Pricing => {
              if (degraded) writeLogLine("info", "market quotes are back; portfolios are valued at fresh quotes", {});
              degraded = false;
              for (const q of response.quotes) prices.set(q.symbol, { priceMicros: q.priceMicros, date: q.date });
              const unpriced = missing.filter((p) => !prices.has(p.symbol));
              for (const p of unpriced) prices.set(p.symbol, lastKnown(p, known));
              return { prices, stale: unpriced.length > 0 };
            }),
            Effect.catch((error) =>
              Effect.sync((): Pricing => {
                // One line per outage, not one per read.
                if (!degraded) writeLogLine("warn", "market quotes unavailable; valuing portfolios at the last known prices", { error: error._tag });
                degraded = true;
                for (const p of missing) prices.set(p.symbol, lastKnown(p, known));
                return { prices, stale: true };
              }),
            ),
          );
        },
      };
    }),
  );

// The newer of the last quote seen and the last fill's price.
function lastKnown(position: PositionRow, known: ReadonlyMap<string, Known>): Price {
  const quote = known.get(position.symbol)?.price;
  if (quote !== undefined && quote.date >= position.lastPriceDate) return quote;
  return { priceMicros: position.lastPriceMicros, date: position.lastPriceDate };
}
