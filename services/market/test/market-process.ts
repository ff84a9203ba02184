/**
 * The market service and the universe service it calls, each as a real process, on one
 * PostgreSQL database (each in its own schema); market reaches universe over HTTP.
 */
import { fileURLToPath } from "node:url";
import { startService, postgresDatabase, type RunningService, type TestDatabase } from "@meridian/kit/testing";

/** The repository root: the services' working directory. */
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const marketEntry = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const universeEntry = fileURLToPath(new URL("../../universe/src/main.ts", import.meta.url));

/** Both processes and their database; `stop` ends them and drops it. */
export interface MarketProcesses {
  readonly market: RunningService;
  readonly universe: RunningService;
  readonly database: TestDatabase;
  readonly stop: () => Promise<void>;
}

/** Starts universe, then market pointed at it (no REDIS_URL: the market's cache and bus are in-process). */
export async function startMarketProcesses(env: Record<string, string | undefined> = {}): Promise<MarketProcesses> {
  const database = await postgresDatabase();
  const universe = await startService({ entry: universeEntry, cwd: repoRoot, env: { ...database.env, REDIS_URL: undefined }, startTimeoutMs: 90_000 });
  const market = await startService({
    entry: marketEntry,
    cwd: repoRoot,
    env: { ...database.env, REDIS_URL: undefined, MERIDIAN_UNIVERSE_URL: universe.httpUrl, ...env },
    startTimeoutMs: 120_000,
  });
  return {
    market,
    universe,
    database,
    stop: async () => {
      await market.stop();
      await universe.stop();
      await database.drop();
    },
  };
}
