/**
 * universe, market and scoring as three real processes for end-to-end tests:
 * universe and market on a fresh PostgreSQL database, all three on a private
 * redis-server (events and cache cross processes there), scoring pointed at the
 * other two by MERIDIAN_UNIVERSE_URL and MERIDIAN_MARKET_URL.
 */
import { fileURLToPath } from "node:url";
import { postgresDatabase, startRedisServer, startService, type RunningService } from "@meridian/kit/testing";

/** The repository root: the processes' working directory. */
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

const entry = (service: string) => `services/${service}/src/main.ts`;

/** The three running processes, and how to end them all. */
export interface Platform {
  readonly universe: RunningService;
  readonly market: RunningService;
  readonly scoring: RunningService;
  /** The private redis-server all three use. */
  readonly redisUrl: string;
  readonly stop: () => Promise<void>;
}

/** Starts universe, then market (seeding its dataset), then scoring. */
export async function startPlatform(scoringEnv: Record<string, string> = {}): Promise<Platform> {
  const database = await postgresDatabase();
  const redis = await startRedisServer();
  const started: RunningService[] = [];
  const stop = async () => {
    for (const service of started.reverse()) await service.stop();
    await redis.stop();
    await database.drop();
  };
  try {
    const common = { ...database.env, REDIS_URL: redis.url, LOG_LEVEL: "info" };
    const start = async (service: string, env: Record<string, string | undefined>) => {
      const running = await startService({ entry: entry(service), cwd: repoRoot, env: { ...common, ...env }, startTimeoutMs: 90_000 });
      started.push(running);
      return running;
    };
    const universe = await start("universe", {});
    const market = await start("market", { MERIDIAN_UNIVERSE_URL: universe.httpUrl, MARKET_SEED: "auto" });
    const scoring = await start("scoring", {
      DATABASE_URL: undefined,
      MERIDIAN_UNIVERSE_URL: universe.httpUrl,
      MERIDIAN_MARKET_URL: market.httpUrl,
      ...scoringEnv,
    });
    return { universe, market, scoring, redisUrl: redis.url, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
