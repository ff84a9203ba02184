/**
 * The current regime: read from the cache (`market:regime:current`, 6 h), else classified from
 * the stored bars, given the last recorded regime (hysteresis), and recorded — with its
 * RegimeChanged event, in one transaction — when it differs from it. Ingests invalidate the
 * cache and wake a background refresher, so a change is detected (and announced to WatchRegime)
 * even when nobody asks for the regime.
 */
import { Context, Effect, Layer, Option, Queue } from "effect";
import { RequestContext, type Unavailable } from "@meridian/kit";
import { Cache, sharedKey } from "@meridian/kit/cache";
import { RegimeReadingSchema, type RegimeReading } from "@meridian/sdk/market";
import { indicatorsOf, minIndexCloses } from "./domain/indicators.js";
import { classify, regimeName } from "./domain/regime.js";
import { InsufficientHistory } from "./errors.js";
import { toReadingMessage } from "./reading.js";
import { MarketStore } from "./store.js";

/** The cache entry of the current reading. */
export const currentRegimeKey = sharedKey(RegimeReadingSchema, "market", "regime", "current");

/** How long a reading is served from the cache: ingests invalidate it sooner. */
export const regimeTtlSeconds = 6 * 60 * 60;

/** What handlers use. */
export interface RegimesShape {
  /** The current reading (cached). Fails with InsufficientHistory while the index has under 200 bars. */
  readonly current: Effect.Effect<RegimeReading, InsufficientHistory | Unavailable>;
  /** Bars changed: drops the cached reading and schedules a reclassification. */
  readonly barsChanged: Effect.Effect<void>;
}

/** The market's regime. */
export class Regimes extends Context.Service<Regimes, RegimesShape>()("@meridian/market/Regimes") {}

/** Provides the regime over the store and cache, with its background refresher. */
export const layerRegimes: Layer.Layer<Regimes, never, MarketStore | Cache> = Layer.effect(
  Regimes,
  Effect.gen(function* () {
    const store = yield* MarketStore;
    const cache = yield* Cache;

    const classifyNow = Effect.gen(function* () {
      const series = yield* store.marketSeries;
      if (series.index.length < minIndexCloses) {
        return yield* new InsufficientHistory({ symbol: "", barsNeeded: minIndexCloses, barsAvailable: series.index.length });
      }
      const last = yield* store.lastReading;
      const indicators = indicatorsOf(series.index, series.constituents);
      const { regime, confidence } = classify(indicators, last?.regime);
      const reading = { regime, confidence, indicators, asOf: series.asOf, computedAt: new Date() };
      const request = yield* Effect.serviceOption(RequestContext);
      const correlationId = Option.isSome(request) ? request.value.correlationId : "";
      const recorded = yield* store.recordIfChanged(reading, { correlationId });
      if (recorded !== undefined) {
        yield* Effect.logInfo("market regime changed").pipe(
          Effect.annotateLogs({ previous: regimeName(recorded.previous), current: regimeName(regime), as_of: reading.asOf }),
        );
      }
      return toReadingMessage(reading);
    });

    const current = cache.getOrFetch(currentRegimeKey, regimeTtlSeconds, classifyNow);

    // Capacity one, sliding: a burst of ingests while a refresh runs makes one more refresh.
    const wakeups = yield* Queue.sliding<void>(1);
    yield* Effect.forkScoped(
      Effect.forever(
        Queue.take(wakeups).pipe(
          Effect.andThen(current),
          Effect.catchCause((cause) => Effect.logWarning("regime refresh failed", cause)),
        ),
      ),
    );

    return {
      current,
      barsChanged: cache.invalidate(currentRegimeKey).pipe(Effect.andThen(Queue.offer(wakeups, undefined)), Effect.asVoid),
    } satisfies RegimesShape;
  }),
);
