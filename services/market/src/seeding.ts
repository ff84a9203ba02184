/**
 * Loading the shipped dataset at start: when MARKET_SEED is "auto" and no bar is stored, the
 * generated bars go straight into the store in bulk, with the regime history backfilled from
 * them (no events: nothing they describe happened live).
 *
 * The symbols come from the dataset's own list, which mirrors the universe service's seed (a
 * test checks the two against a running universe). Not from the universe client: the dataset
 * is fixed, so it can only ever hold the securities it was generated for, and asking universe
 * would make start-up wait on another service (in the all-in-one launcher, one not bound yet).
 */
import { Effect, Layer } from "effect";
import type { Unavailable } from "@meridian/kit";
import { generateDataset, type Series } from "./domain/dataset.js";
import { regimeChanges } from "./domain/history.js";
import type { Reading } from "./reading.js";
import { Regimes } from "./regime.js";
import { MarketStore } from "./store.js";

/** When to load the dataset: "auto" (an empty database) or "off". */
export type SeedMode = "auto" | "off";

/** The dataset and the regime changes along it. */
export function shippedData(): { series: Series[]; history: Reading[] } {
  const dataset = generateDataset();
  const dated = (s: Series) => ({ dates: s.bars.map((b) => b.date), closes: s.bars.map((b) => Number(b.closeMicros) / 1e6) });
  // Each backfilled reading is dated at the close of its day.
  const history = regimeChanges(dated(dataset.index), dataset.securities.map(dated)).map((r) => ({
    ...r,
    computedAt: new Date(`${r.asOf}T21:00:00Z`),
  }));
  return { series: [...dataset.securities, dataset.index], history };
}

/** Loads the dataset if `mode` is "auto" and the store is empty; logs what it did and how long it took. */
export function seedIfEmpty(mode: SeedMode): Effect.Effect<void, Unavailable, MarketStore | Regimes> {
  return Effect.gen(function* () {
    if (mode === "off") return;
    const store = yield* MarketStore;
    if (!(yield* store.isEmpty)) return;
    const started = performance.now();
    const { series, history } = shippedData();
    const generated = performance.now();
    if (!(yield* store.loadIfEmpty(series, history))) return;
    yield* (yield* Regimes).barsChanged;
    yield* Effect.logInfo("loaded the shipped market dataset").pipe(
      Effect.annotateLogs({
        bars: series.reduce((n, s) => n + s.bars.length, 0),
        symbols: series.length,
        regime_changes: history.length,
        duration_ms: Math.round(performance.now() - started),
        generate_ms: Math.round(generated - started),
      }),
    );
  });
}

/** Seeds at start-up, before the service is served (it takes a couple of seconds). */
export const layerSeed = (mode: SeedMode): Layer.Layer<never, Unavailable, MarketStore | Regimes> =>
  Layer.effectDiscard(seedIfEmpty(mode));
