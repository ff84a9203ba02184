/**
 * Redis as a readiness dependency: PING on the shared client, for as long as the Layer lives.
 */
import { Effect, Layer } from "effect";
import { registerDependency, type Health } from "../health.js";
import { Redis } from "./connection.js";

/**
 * Registers "redis" with the health registry while the connection is up. Optional by default:
 * with Redis down the cache serves from the source and the outbox holds events, so the service
 * is degraded, not unready; pass `required: true` where nothing works without it.
 */
export const layerRedisHealth = (options?: { readonly required?: boolean }): Layer.Layer<never, never, Redis | Health> =>
  Layer.effectDiscard(
    Effect.flatMap(Effect.service(Redis), ({ client }) =>
      registerDependency({
        name: "redis",
        required: options?.required ?? false,
        check: async () => {
          await client.ping();
        },
      }),
    ),
  );
