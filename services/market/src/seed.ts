/**
 * Loads the shipped dataset into a running market service through its API (IngestBars, one call
 * per symbol, the index included), for deployments where it does not seed itself (`bun run seed`):
 *   MERIDIAN_MARKET_URL=http://127.0.0.1:8080 bun run services/market/src/seed.ts
 * Idempotent: bars are upserted by (symbol, date), so a second run replaces them with the same
 * values (reported as updated). Exits non-zero, naming the symbol, if a call fails.
 */
import { createMeridianClient } from "@meridian/sdk";
import { Market } from "@meridian/sdk/market";
import { generateDataset, type Series } from "./domain/dataset.js";

/** Calls in flight at once: enough to overlap round trips, few enough not to crowd the service. */
const concurrency = 4;

/** Totals of one run. */
export interface SeedTotals {
  readonly symbols: number;
  readonly inserted: number;
  readonly updated: number;
}

/** Ingests every series of the dataset into the market at `baseUrl`. */
export async function seedThroughApi(baseUrl: string): Promise<SeedTotals> {
  const client = createMeridianClient(Market, { baseUrl, useBinaryFormat: true, policy: { timeoutMs: 60_000 } });
  const dataset = generateDataset();
  const queue: Series[] = [...dataset.securities, dataset.index];
  let inserted = 0;
  let updated = 0;
  const worker = async () => {
    for (let series = queue.shift(); series !== undefined; series = queue.shift()) {
      try {
        const counts = await client.ingestBars({ symbol: series.symbol, bars: [...series.bars] });
        inserted += counts.inserted;
        updated += counts.updated;
      } catch (e) {
        throw new Error(`IngestBars ${series.symbol} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { symbols: dataset.securities.length + 1, inserted, updated };
}

if (import.meta.main) {
  const baseUrl = process.env.MERIDIAN_MARKET_URL ?? "http://127.0.0.1:8080";
  const started = performance.now();
  try {
    const totals = await seedThroughApi(baseUrl);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`seeded ${baseUrl}: ${totals.symbols} symbols, ${totals.inserted} bars inserted, ${totals.updated} updated, in ${seconds} s`);
  } catch (e) {
    console.error(`seeding ${baseUrl} failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
