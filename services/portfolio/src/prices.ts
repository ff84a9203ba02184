/**
 * The prices positions are valued at: the latest quotes from the market service, or, when it
 * cannot answer in time, the last prices this service knows, marked stale. A portfolio read never
 * fails because market is down: trading reads it on every order only to learn that the account
 * exists, and a user still sees cash and positions.
 */
import { Effect, Layer, Context } from "effect";
import { writeLogLine } from "@meridian/kit";
import { ServiceClient } from "@meridian/kit/client";
import type { EffectClient } from "@meridian/sdk";
import { Market } from "@meridian/sdk/market";
import type { Price } from "./domain/valuation.js";
import type { PositionRow } from "./store.js";

/** Prices by symbol, and whether any is not a fresh quote. */
export interface Pricing {
  readonly prices: ReadonlyMap<string, Price>;
  readonly stale: boolean;
}

/** What the handlers ask for prices. */
export interface PricesShape {
  /** Prices for every position: fresh quotes, or the last known ones (stale) when market fails or is slow. */
  readonly forPositions: (positions: ReadonlyArray<PositionRow>) => Effect.Effect<Pricing>;
  /** Latest quotes of the symbols (market's errors pass through), remembered as last known. */
  readonly quotes: EffectClient<typeof Market>["getQuotes"];
}

/** The market client of this service. */
export const MarketClient = ServiceClient(Market);

/** Prices for the portfolio. */
export class Prices extends Context.Service<Prices, PricesShape>()("@meridian/portfolio/Prices") {}

/** How long a portfolio read waits for quotes before valuing at the last known prices. */
export interface PricesOptions {
  readonly quoteTimeoutMs: number;
}

/** Prices from the market client in context, with this process's memory of the last quotes seen. */
export const layerPrices = (options: PricesOptions): Layer.Layer<Prices, never, EffectClient<typeof Market>> =>
  Layer.effect(
    Prices,
    Effect.map(Effect.service(MarketClient), (market) => {
      // Process-local: enough to bridge a market outage with better prices than the last fill's.
      const lastQuotes = new Map<string, Price>();
      let degraded = false;
      const quotes: PricesShape["quotes"] = (request, callOptions) =>
        Effect.tap(market.getQuotes(request, callOptions), (response) =>
          Effect.sync(() => {
            for (const q of response.quotes) {
              const known = lastQuotes.get(q.symbol);
              if (known === undefined || known.date <= q.date) lastQuotes.set(q.symbol, { priceMicros: q.priceMicros, date: q.date });
            }
          }),
        );
      return {
        quotes,
        forPositions: (positions) => {
          if (positions.length === 0) return Effect.succeed({ prices: new Map(), stale: false });
          const symbols = positions.map((p) => p.symbol);
          return quotes({ symbols }, { timeoutMs: options.quoteTimeoutMs }).pipe(
            Effect.map((response): Pricing => {
              if (degraded) writeLogLine("info", "market quotes are back; portfolios are valued at fresh quotes", {});
              degraded = false;
              const prices = new Map(response.quotes.map((q) => [q.symbol, { priceMicros: q.priceMicros, date: q.date }]));
              const missing = positions.filter((p) => !prices.has(p.symbol));
              for (const p of missing) prices.set(p.symbol, lastKnown(p, lastQuotes));
              return { prices, stale: missing.length > 0 };
            }),
            Effect.catch((error) =>
              Effect.sync((): Pricing => {
                // One line per outage, not one per read.
                if (!degraded) writeLogLine("warn", "market quotes unavailable; valuing portfolios at the last known prices", { error: error._tag });
                degraded = true;
                return { prices: new Map(positions.map((p) => [p.symbol, lastKnown(p, lastQuotes)])), stale: true };
              }),
            ),
          );
        },
      };
    }),
  );

// The newer of the last quote seen and the last fill's price.
function lastKnown(position: PositionRow, lastQuotes: ReadonlyMap<string, Price>): Price {
  const quote = lastQuotes.get(position.symbol);
  if (quote !== undefined && quote.date >= position.lastPriceDate) return quote;
  return { priceMicros: position.lastPriceMicros, date: position.lastPriceDate };
}
