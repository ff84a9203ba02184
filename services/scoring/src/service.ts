/**
 * The scoring service as Layers, for its own process (main.ts) and for the
 * all-in-one launcher: the clients of market and universe (with their
 * policies), and the consumer that drops cached scores when bars are ingested.
 * It stores nothing in PostgreSQL: its only state is the score cache, in the
 * kit Cache. It requires (does not build) Cache and EventBus; Health and
 * LocalServices are used when present.
 */
import { Effect, Layer } from "effect";
import { defineService, type ConfigInvalid } from "@meridian/kit";
import { Cache } from "@meridian/kit/cache";
import { layerClient } from "@meridian/kit/client";
import type { EventBus } from "@meridian/kit/events";
import type { PolicyOptions } from "@meridian/sdk";
import { Market } from "@meridian/sdk/market";
import { Universe } from "@meridian/sdk/universe";
import { scoringHandlers } from "./handlers.js";
import type { MarketClient } from "./market-data.js";
import { layerScoreInvalidation } from "./score-cache.js";
import type { UniverseClient } from "./universe-data.js";

/** This service's name: its log name, its consumer group, its events' source. */
export const name = "scoring";

/** The bound service, given the clients and the cache. */
export const scoringService = scoringHandlers;

/**
 * Calls to market: a short deadline and one quick retry, so a market that is
 * down costs a caller well under a second, then the breaker (5 failures in a
 * row) answers `unavailable` at once for 5 s. The bulkhead admits the fan-out
 * of several concurrent batches (16 calls each). MERIDIAN_MARKET_* variables override.
 */
export const marketPolicy: PolicyOptions = {
  timeoutMs: 2000,
  retry: { maxAttempts: 2, baseDelayMs: 25, maxDelayMs: 200 },
  breaker: { consecutiveFailures: 5, openMs: 5000 },
  bulkhead: { maxConcurrent: 64, maxQueue: 2000 },
};

/** Calls to universe (RankUniverse's listing): the same short deadline. MERIDIAN_UNIVERSE_* variables override. */
export const universePolicy: PolicyOptions = {
  timeoutMs: 2000,
  retry: { maxAttempts: 2, baseDelayMs: 25, maxDelayMs: 200 },
};

/** What the service's Layers read besides the process environment. */
export interface ScoringSettings {
  /** Variables to read the downstreams' configuration from instead of the process's (tests). */
  readonly env?: Record<string, string | undefined>;
}

/**
 * Everything the service runs on, for main.ts and the launcher: both clients, the
 * invalidation consumer, and the cache it was given (the handlers read it per call).
 */
export function layerScoring(
  settings: ScoringSettings = {},
): Layer.Layer<MarketClient | UniverseClient | Cache, ConfigInvalid, Cache | EventBus> {
  const env = settings.env === undefined ? {} : { env: settings.env };
  return Layer.mergeAll(
    layerClient(Market, { policy: marketPolicy, ...env }),
    layerClient(Universe, { policy: universePolicy, ...env }),
    layerScoreInvalidation,
    Layer.effect(Cache, Effect.service(Cache)),
  );
}

/** The scoring service as the kit runs it, alone (main.ts) or with the others (the launcher). */
export const scoring = defineService({
  name,
  binding: scoringService,
  resources: () => layerScoring(),
});
