/**
 * MarketService's RPCs → the bar rules, the store and the regime. Nothing else: validation
 * failures become InvalidArgument with every field named; symbols the universe does not know,
 * or without bars, become UnknownSymbols naming each.
 */
import { Effect, Option, Stream } from "effect";
import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { implement, InvalidArgument, RequestContext } from "@meridian/kit";
import { ServiceClient } from "@meridian/kit/client";
import { tail } from "@meridian/kit/events";
import { BarSchema, Market, QuoteSchema, type RegimeReading } from "@meridian/sdk/market";
import { Universe } from "@meridian/sdk/universe";
import { formatDate } from "./domain/dates.js";
import { checkDateRange, checkSymbol, indexSymbol, maxQuoteSymbols, validateBars, type DailyBar, type Violation } from "./domain/bars.js";
import { UnknownSymbols } from "./errors.js";
import { RegimeChangedEvent } from "./events.js";
import { toReadingMessage } from "./reading.js";
import { Regimes } from "./regime.js";
import { MarketStore } from "./store.js";

/** The market service's handlers, bound to its store, regime, universe client and event bus. */
export const marketHandlers = Effect.gen(function* () {
  const store = yield* MarketStore;
  const regimes = yield* Regimes;
  const universe = yield* ServiceClient(Universe);
  return yield* implement(Market, {
    ingestBars: (request) =>
      Effect.gen(function* () {
        yield* failIfAny([...checkSymbol(request.symbol, "symbol"), ...validateBars(request.bars)]);
        // The index is the market's own series; every other symbol must be a security.
        if (request.symbol !== indexSymbol) {
          yield* universe
            .getSecurity({ symbol: request.symbol })
            .pipe(Effect.catchTag("UnknownSymbol", () => Effect.fail(new UnknownSymbols({ symbols: [request.symbol] }))));
        }
        const counts = yield* store.ingest(request.symbol, request.bars, { correlationId: yield* correlationId });
        yield* regimes.barsChanged;
        return counts;
      }),
    getBars: (request) =>
      Effect.gen(function* () {
        yield* failIfAny([...checkSymbol(request.symbol, "symbol"), ...checkDateRange(request.from, request.to)]);
        const bars = yield* store.bars(request.symbol, orUndefined(request.from), orUndefined(request.to));
        if (bars === undefined) return yield* new UnknownSymbols({ symbols: [request.symbol] });
        return { bars: bars.map(toBarMessage) };
      }),
    getQuotes: (request) =>
      Effect.gen(function* () {
        yield* failIfAny(checkQuoteSymbols(request.symbols));
        const quotes = yield* store.quotes(request.symbols);
        const unknown = [...new Set(request.symbols.filter((s) => !quotes.has(s)))];
        if (unknown.length > 0) return yield* new UnknownSymbols({ symbols: unknown });
        return {
          quotes: request.symbols.map((symbol) => {
            const quote = quotes.get(symbol)!;
            return create(QuoteSchema, { symbol, date: quote.date, priceMicros: quote.priceMicros });
          }),
        };
      }),
    getCurrentRegime: () => Effect.map(regimes.current, (reading) => ({ reading })),
    getRegimeHistory: (request) =>
      Effect.gen(function* () {
        yield* failIfAny(checkDateRange(request.from, request.to));
        // An empty `to` means today (the proto's contract), so readings dated ahead are left out.
        const to = request.to === "" ? formatDate(new Date()) : request.to;
        const readings = yield* store.history(orUndefined(request.from), to);
        return { readings: readings.map(toReadingMessage) };
      }),
    watchRegime: () =>
      Stream.suspend(() => {
        // The current reading and the change events race at the start: whichever is newer wins,
        // so a change made meanwhile is not followed by the stale reading it replaced.
        let sentAtMs = -Infinity;
        const changes = tail(RegimeChangedEvent).pipe(
          Stream.map((event) => event.payload.current),
          Stream.filter((reading): reading is RegimeReading => reading !== undefined),
        );
        return Stream.merge(Stream.fromEffect(regimes.current), changes).pipe(
          Stream.filter((reading: RegimeReading) => {
            const at = reading.computedAt === undefined ? 0 : timestampMs(reading.computedAt);
            if (at < sentAtMs) return false;
            sentAtMs = at;
            return true;
          }),
          Stream.map((reading) => ({ reading })),
        );
      }),
  });
});

const correlationId = Effect.map(Effect.serviceOption(RequestContext), (request) =>
  Option.isSome(request) ? request.value.correlationId : "",
);

function checkQuoteSymbols(symbols: ReadonlyArray<string>): Violation[] {
  if (symbols.length === 0) return [{ field: "symbols", description: "must name at least one symbol" }];
  if (symbols.length > maxQuoteSymbols) {
    return [{ field: "symbols", description: `must name at most ${maxQuoteSymbols} symbols (got ${symbols.length})` }];
  }
  return symbols.flatMap((symbol, i) => checkSymbol(symbol, `symbols[${i}]`));
}

function failIfAny(violations: Violation[]): Effect.Effect<void, InvalidArgument> {
  return violations.length === 0 ? Effect.void : Effect.fail(new InvalidArgument({ fieldViolations: violations }));
}

function orUndefined(text: string): string | undefined {
  return text === "" ? undefined : text;
}

function toBarMessage(bar: DailyBar) {
  return create(BarSchema, bar);
}
