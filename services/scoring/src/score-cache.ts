/**
 * The score cache: per symbol, the score's components (`scoring:score:<symbol>`,
 * in the kit Cache: Redis when REDIS_URL is set). The weights are applied after
 * each read, so the entry does not depend on the regime and a regime change never
 * serves old weights. Entries are dropped when the market ingests bars for the
 * symbol (`meridian.market.bars.ingested`, consumer group "scoring"); deleting a
 * key twice is harmless, so redeliveries need no bookkeeping. The TTL bounds
 * staleness if an invalidation is ever missed.
 */
import { Effect, Layer } from "effect";
import { sharedKey, Cache, type CacheKey } from "@meridian/kit/cache";
import { defineEvent, layerConsumer, type EventBus, type ReceivedEvent } from "@meridian/kit/events";
import { BarsIngestedSchema, type BarsIngested } from "@meridian/sdk/market";
import { ScoreSchema, type Score } from "@meridian/sdk/scoring";

/** How long a cached score lives without an invalidation. */
export const scoreTtlSeconds = 3600;

/** The cache entry of one symbol's score. */
export function scoreKey(symbol: string): CacheKey<Score> {
  return sharedKey(ScoreSchema, "scoring", "score", symbol);
}

/** The market's event: a symbol's bars were inserted or replaced. */
export const barsIngested = defineEvent("meridian.market.bars.ingested", BarsIngestedSchema);

/** The consumer group of this service. */
export const consumerGroup = "scoring";

/** Drops the cached scores of the symbols the events name. */
export function invalidateScores(events: ReadonlyArray<ReceivedEvent<BarsIngested>>): Effect.Effect<void, never, Cache> {
  const keys = events.map((e) => e.payload.symbol).filter((symbol) => symbol !== "").map(scoreKey);
  if (keys.length === 0) return Effect.void;
  return Effect.flatMap(Effect.service(Cache), (cache) => cache.invalidate(...keys));
}

const handle = Object.assign((event: ReceivedEvent<BarsIngested>) => invalidateScores([event]), { batch: invalidateScores });

/** Consumes bars.ingested for as long as the Layer lives, invalidating each named symbol's score (a batch in one delete). */
export const layerScoreInvalidation: Layer.Layer<never, never, EventBus | Cache> = layerConsumer({
  event: barsIngested,
  group: consumerGroup,
  handle,
});
