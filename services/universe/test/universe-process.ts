/**
 * The universe service as a real process, once per database, for a suite of
 * end-to-end tests: `describeUniverse(title, (universe) => { test(...) })`
 * runs the suite against embedded PGlite and against PostgreSQL.
 */
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startService, type RunningService } from "@meridian/kit/testing";
import { databases, type TestDatabase } from "@meridian/kit/testing";

/** The service's entry point. */
export const universeEntry = fileURLToPath(new URL("../src/main.ts", import.meta.url));

/** The repository root: where `proto/` and `node_modules/.bin` are. */
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** Starts the universe service on a database; the caller stops it. */
export function startUniverse(database: TestDatabase, env: Record<string, string | undefined> = {}): Promise<RunningService> {
  return startService({ entry: universeEntry, cwd: repoRoot, env: { ...database.env, ...env }, startTimeoutMs: 60_000 });
}

/** The seeded securities (migrations/0002_seed_securities.sql). */
export const seededSymbols: ReadonlyArray<string> = [
  "AAPL", "MSFT", "NVDA", "ORCL", "SAP", "JNJ", "PFE", "UNH", "NOVN", "JPM", "BAC", "GS", "HSBA", "AMZN",
  "TSLA", "HD", "MC", "PG", "KO", "WMT", "NESN", "XOM", "CVX", "SHEL", "CAT", "BA", "GE", "SIE", "LIN",
  "NEM", "BHP", "NEE", "DUK", "SO", "PLD", "AMT", "SPG", "GOOGL", "META", "DIS", "VZ", "BRK.B",
];

/**
 * One `describe` per database, each with its own freshly started service
 * (stopped and its database dropped after the suite); `universe()` is that service.
 * The last test of each stops it with SIGTERM and expects a clean, prompt exit.
 */
export function describeUniverse(title: string, suite: (universe: () => RunningService) => void): void {
  for (const { name, create } of databases) {
    describe(`${title} (${name})`, () => {
      let database: TestDatabase | undefined;
      let service: RunningService | undefined;
      beforeAll(async () => {
        database = await create();
        service = await startUniverse(database);
      }, 90_000);
      afterAll(async () => {
        await service?.stop();
        await database?.drop();
      }, 30_000);
      const universe = () => {
        if (service === undefined) throw new Error("the universe service did not start");
        return service;
      };
      suite(universe);
      test("after the suite, SIGTERM stops the process cleanly, without needing the grace period", async () => {
        expect(universe().isRunning()).toBe(true);
        expect(await universe().stop(8000)).toBe(0);
        const messages = universe().logs().map((l) => l.message);
        expect(messages.indexOf("stopped")).toBeGreaterThan(messages.indexOf("shutting down"));
        expect(universe().logs().filter((l) => l.level === "warn" && String(l.message).includes("grace"))).toEqual([]);
      }, 15_000);
    });
  }
}
