/**
 * What PlaceOrder asks the other services, each as one function: the security
 * (universe, cached briefly), the account's fixed facts (portfolio, once per
 * account), the latest quote (market, cached until BarsIngested). Their errors
 * become trading's.
 *
 * Securities and quotes are read on every order, so they are cached in this
 * process (the kit's in-process cache: single-flight, bounded), not in Redis: a
 * hit costs no round trip, no decoding and no turn of the event loop (the
 * messages are held frozen, shared by every order). Every instance follows BarsIngested (kit `tail`) and
 * drops the symbol's quote; the TTL bounds staleness should it miss one.
 */
import { Context, Effect, Layer, Stream } from "effect";
import { makeCache, memoryStore, sharedKey, type CacheKey, type CacheShape } from "@meridian/kit/cache";
import { tail } from "@meridian/kit/events";
import { ServiceClient } from "@meridian/kit/client";
import { Market, QuoteSchema, UnknownSymbols, type Quote } from "@meridian/sdk/market";
import { Portfolio } from "@meridian/sdk/portfolio";
import { SecuritySchema, Universe } from "@meridian/sdk/universe";
import { UnknownAccount, UnknownSymbol } from "./errors.js";
import { barsIngested } from "./events.js";
import type { AccountFacts } from "./records.js";
import { OrderStore } from "./store.js";

/**
 * How long a security's status and currency may be served from the cache: a symbol deactivated
 * in the universe is refused by trading within this many seconds.
 */
export const securityTtlSeconds = 5;

/** This instance's cache of securities and quotes. */
export class NearCache extends Context.Service<NearCache, CacheShape>()("@meridian/trading/NearCache") {}

/** A fresh in-process cache (at most 10,000 entries). */
export const layerNearCache: Layer.Layer<NearCache> = Layer.sync(NearCache, () => makeCache(memoryStore({ maxEntries: 10_000 })));

/** The security of a symbol; UnknownSymbol when the universe has none. */
const securityOf = Effect.gen(function* () {
  const universe = yield* Effect.service(ServiceClient(Universe));
  const cache = yield* Effect.service(NearCache);
  return (symbol: string) =>
    cache.getOrFetch(
      sharedKey(SecuritySchema, "trading", "security", symbol),
      securityTtlSeconds,
      universe.getSecurity({ symbol }).pipe(
        Effect.flatMap((response) =>
          response.security === undefined ? Effect.fail(new UnknownSymbol({ symbol })) : Effect.succeed(response.security),
        ),
        Effect.catchTag("UnknownSymbol", () => Effect.fail(new UnknownSymbol({ symbol }))),
      ),
    );
});

/**
 * The account's currency and initial cash, from portfolio, recorded with trading's own ledger of
 * the account. Both are fixed when portfolio opens an account, so PlaceOrder asks only for an
 * account it has no ledger of yet.
 */
const accountFactsOf = Effect.gen(function* () {
  const portfolio = yield* Effect.service(ServiceClient(Portfolio));
  const store = yield* Effect.service(OrderStore);
  return (accountId: string) =>
    Effect.gen(function* () {
      const { portfolio: state } = yield* portfolio
        .getPortfolio({ accountId })
        .pipe(Effect.catchTag("UnknownAccount", () => Effect.fail(new UnknownAccount({ accountId }))));
      const account = state?.account;
      if (account === undefined) return yield* new UnknownAccount({ accountId });
      const facts: AccountFacts = { currency: account.currency, initialCashMinor: account.initialCashMinor };
      yield* store.registerAccount(accountId, facts);
      return facts;
    });
});

/** The cache entry of a symbol's latest quote: it changes only when market ingests bars. */
export function quoteKey(symbol: string): CacheKey<Quote> {
  return sharedKey(QuoteSchema, "trading", "quote", symbol);
}

/** How long a quote may be served from the cache at most (BarsIngested drops it sooner). */
export const quoteTtlSeconds = 30;

/** The symbol's latest quote, or undefined when market has no bars for it. */
const latestQuoteOf = Effect.gen(function* () {
  const market = yield* Effect.service(ServiceClient(Market));
  const cache = yield* Effect.service(NearCache);
  return (symbol: string) =>
    cache
      .getOrFetch(
        quoteKey(symbol),
        quoteTtlSeconds,
        market.getQuotes({ symbols: [symbol] }).pipe(
          Effect.flatMap((response) => {
            const quote = response.quotes.find((q) => q.symbol === symbol);
            return quote === undefined ? Effect.fail(new UnknownSymbols({ symbols: [symbol] })) : Effect.succeed(quote);
          }),
        ),
      )
      .pipe(
        Effect.map((quote): Quote | undefined => quote),
        // No bars, no price: the caller decides whether that refuses the order.
        Effect.catchTags({ UnknownSymbols: () => Effect.succeed(undefined), InsufficientHistory: () => Effect.succeed(undefined) }),
      );
});

/** The lookups PlaceOrder makes in other services. */
export interface DownstreamShape {
  readonly security: Effect.Success<typeof securityOf>;
  readonly accountFacts: Effect.Success<typeof accountFactsOf>;
  readonly latestQuote: Effect.Success<typeof latestQuoteOf>;
}

/** The other services, as trading asks them. */
export class Downstream extends Context.Service<Downstream, DownstreamShape>()("@meridian/trading/Downstream") {}

/** The lookups, over the clients of universe, portfolio and market, the cache and the store. */
export const layerDownstream = Layer.effect(
  Downstream,
  Effect.all({ security: securityOf, accountFacts: accountFactsOf, latestQuote: latestQuoteOf }),
);

/** Drops a symbol's cached quote: new bars may mean a new latest close. */
export const dropQuote = (symbol: string): Effect.Effect<void, never, NearCache> =>
  Effect.flatMap(Effect.service(NearCache), (cache) => cache.invalidate(quoteKey(symbol)));

/** Follows BarsIngested for as long as the Layer lives, dropping each symbol's cached quote in this instance. */
export const layerQuoteFollower = Layer.effectDiscard(
  Effect.gen(function* () {
    const cache = yield* Effect.service(NearCache);
    yield* Effect.forkScoped(Stream.runForEach(tail(barsIngested), (event) => cache.invalidate(quoteKey(event.payload.symbol))));
  }),
);
