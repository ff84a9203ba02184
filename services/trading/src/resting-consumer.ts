/**
 * Limit orders fill when market ingests bars that cross them: trading consumes
 * meridian.market.bars.ingested (group "trading"), drops the symbol's cached
 * quote, reads the new bars from market, and fills the symbol's crossed orders
 * with their OrderFilled events, in one transaction that also records the event
 * as processed (a redelivery fills nothing twice).
 */
import { Effect, Layer } from "effect";
import { isConnectionFailure } from "@meridian/kit/postgres";
import { Unavailable } from "@meridian/kit";
import { ServiceClient } from "@meridian/kit/client";
import { idempotent, layerConsumer, type ReceivedEvent } from "@meridian/kit/events";
import { Market, type BarsIngested } from "@meridian/sdk/market";
import { TradingConfig } from "./config.js";
import { dropQuote, NearCache } from "./downstream.js";
import { barsIngested } from "./events.js";
import type { DayBar } from "./resting.js";
import { OrderStore } from "./store.js";

/** The consumer group: trading's instances share the events. */
export const consumerGroup = "trading";

/** Runs the limit-order consumer for as long as the Layer lives. */
export const layerRestingOrderConsumer = Layer.unwrap(
  Effect.gen(function* () {
    const market = yield* Effect.service(ServiceClient(Market));
    const near = yield* Effect.service(NearCache);
    const store = yield* Effect.service(OrderStore);
    const { feeBps } = yield* Effect.service(TradingConfig);

    const fill = (bars: ReadonlyArray<DayBar>) =>
      idempotent<BarsIngested, Unavailable, never>((event, tx) =>
        Effect.tryPromise({
          try: () =>
            store.fillResting(tx, event.payload.symbol, bars, feeBps, {
              correlationId: event.correlationId,
              traceparent: event.traceparent,
              tracestate: event.tracestate,
            }),
          catch: (cause) => cause,
        }).pipe(
          Effect.catch((cause) => (isConnectionFailure(cause) ? Effect.fail(new Unavailable({ reason: "database unavailable" })) : Effect.die(cause))),
          // Unavailable (rolled back) is retried in place by the consumer.
          Effect.asVoid,
        ),
      );

    const handle = (event: ReceivedEvent<BarsIngested>) =>
      Effect.gen(function* () {
        const { symbol, firstDate, lastDate } = event.payload;
        // New bars may mean a new latest close: market orders must not fill at the old one.
        yield* Effect.provideService(dropQuote(symbol), NearCache, near);
        // The bars are read before the transaction opens: no remote call while rows are locked.
        const { bars } = yield* market
          .getBars({ symbol, from: firstDate, to: lastDate })
          .pipe(Effect.catchTag("UnknownSymbols", () => Effect.succeed({ bars: [] })));
        const days: DayBar[] = bars.map((bar) => ({
          date: bar.date,
          openMicros: bar.openMicros,
          highMicros: bar.highMicros,
          lowMicros: bar.lowMicros,
        }));
        yield* fill(days)(event);
      });

    return layerConsumer({ event: barsIngested, group: consumerGroup, handle });
  }),
);
