/**
 * Trading and its downstreams as real processes (`bun run services/<name>/src/main.ts`), as
 * `start:distributed` runs them: each its own process on one fresh PostgreSQL database (a
 * schema each), sharing the real Redis under a key prefix of this run, calling each other over
 * the network (trading → market over gRPC, → universe and portfolio over Connect).
 */
import { fileURLToPath } from "node:url";
import type { Message } from "@bufbuild/protobuf";
import { Effect, Layer } from "effect";
import { consume, layerRedisEventBus, type EventType } from "@meridian/kit/events";
import { layerRedis, Redis } from "@meridian/kit/redis";
import { dropRedisKeys, postgresDatabase, startService, type RunningService, type TestDatabase } from "@meridian/kit/testing";

/** The repository root, where services are started from. */
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** The real Redis the processes share. */
export const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** The four services, running. */
export interface Platform {
  readonly universe: RunningService;
  readonly market: RunningService;
  readonly portfolio: RunningService;
  readonly trading: RunningService;
  readonly database: TestDatabase;
  /** The Redis key prefix of every stream and cache key of this run. */
  readonly keyPrefix: string;
  readonly stop: () => Promise<void>;
}

/** Starts universe, market (no shipped dataset), portfolio and trading, downstreams first. */
export async function startPlatform(env: Record<string, string | undefined> = {}): Promise<Platform> {
  const database = await postgresDatabase();
  const keyPrefix = `e2e-trading-${crypto.randomUUID().slice(0, 8)}:`;
  const common = { ...database.env, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: keyPrefix };
  const start = (name: string, extra: Record<string, string | undefined> = {}) =>
    startService({ entry: `services/${name}/src/main.ts`, cwd: repoRoot, env: { ...common, ...extra }, startTimeoutMs: 60_000 });
  const started: RunningService[] = [];
  try {
    const universe = await start("universe");
    started.push(universe);
    const market = await start("market", { MARKET_SEED: "off", MERIDIAN_UNIVERSE_URL: universe.httpUrl });
    started.push(market);
    const portfolio = await start("portfolio", { MERIDIAN_MARKET_URL: market.httpUrl });
    started.push(portfolio);
    const trading = await start("trading", {
      MERIDIAN_UNIVERSE_URL: universe.httpUrl,
      MERIDIAN_PORTFOLIO_URL: portfolio.httpUrl,
      MERIDIAN_MARKET_URL: market.grpcUrl,
      MERIDIAN_MARKET_PROTOCOL: "grpc",
      ...env,
    });
    started.push(trading);
    return {
      universe,
      market,
      portfolio,
      trading,
      database,
      keyPrefix,
      stop: async () => {
        for (const service of started.reverse()) await service.stop();
        await database.drop();
        await dropRedisKeys(redisUrl, keyPrefix);
      },
    };
  } catch (e) {
    for (const service of started.reverse()) await service.stop();
    await database.drop();
    throw e;
  }
}

/** Runs `use` with a Redis client of its own. */
export function withRedis<A>(use: (client: Redis["Service"]["client"]) => Promise<A>): Promise<A> {
  return Effect.runPromise(
    Effect.scoped(
      Effect.flatMap(Effect.service(Redis), ({ client }) => Effect.promise(() => use(client))).pipe(
        Effect.provide(Layer.fresh(layerRedis({ url: redisUrl }))),
      ),
    ),
  );
}


/**
 * Every event of a topic the stream holds, read by a consumer group of its own (a new group
 * starts from the oldest entry), for `waitMs`.
 */
export async function eventsOnBus<A extends Message>(event: EventType<A>, keyPrefix: string, waitMs = 1000): Promise<A[]> {
  const seen: A[] = [];
  await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        yield* consume({
          event,
          group: `observer-${crypto.randomUUID().slice(0, 8)}`,
          handle: (received) => Effect.sync(() => void seen.push(received.payload)),
          blockMs: 100,
        });
        yield* Effect.sleep(waitMs);
      }),
    ).pipe(Effect.provide(layerRedisEventBus({ source: "test", keyPrefix }).pipe(Layer.provide(layerRedis({ url: redisUrl }))))),
  );
  return seen;
}
