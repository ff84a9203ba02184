/**
 * Scoring as effects over the market, the universe and the score cache: one
 * symbol, a batch (bounded concurrency, every unknown symbol named), and the
 * ranked universe. handlers.ts maps RPCs onto these.
 */
import { Effect } from "effect";
import type { Unavailable } from "@meridian/kit";
import { getOrFetch, type Cache } from "@meridian/kit/cache";
import type { Regime } from "@meridian/sdk/market";
import type { Score } from "@meridian/sdk/scoring";
import type { Sector } from "@meridian/sdk/universe";
import { byCompositeDescending, scoreSeries, weigh } from "./domain/score.js";
import { InsufficientHistory, UnknownSymbols } from "./errors.js";
import { closesOf, currentRegime, type MarketClient, type RegimeView } from "./market-data.js";
import { scoreKey, scoreTtlSeconds } from "./score-cache.js";
import { activeSecurities, type UniverseClient } from "./universe-data.js";

/** Symbols scored at once by one call: the market sees at most this many GetBars from it. */
export const scoreConcurrency = 16;

/** One symbol's score under the view's regime: the cached components, else its bars, weighed now. */
export function scoreOf(
  symbol: string,
  view: RegimeView,
): Effect.Effect<Score, UnknownSymbols | InsufficientHistory | Unavailable, MarketClient | Cache> {
  const computed = Effect.flatMap(closesOf(symbol, view.asOf), (closes) => {
    const result = scoreSeries(symbol, closes, view.regime);
    return result instanceof InsufficientHistory ? Effect.fail(result) : Effect.succeed(result);
  });
  return Effect.map(getOrFetch(scoreKey(symbol), scoreTtlSeconds, computed), (score) => weigh(score, view.regime));
}

/** A symbol's score, or why it has none; only the market being unavailable fails the lot. */
type Outcome = Score | UnknownSymbols | InsufficientHistory;

function outcomesOf(
  symbols: ReadonlyArray<string>,
  view: RegimeView,
): Effect.Effect<ReadonlyArray<Outcome>, Unavailable, MarketClient | Cache> {
  return Effect.forEach(
    symbols,
    (symbol) =>
      scoreOf(symbol, view).pipe(
        Effect.catchTag("UnknownSymbols", (e) => Effect.succeed<Outcome>(e)),
        Effect.catchTag("InsufficientHistory", (e) => Effect.succeed<Outcome>(e)),
      ),
    { concurrency: scoreConcurrency },
  );
}

/** One symbol's score under the current regime. */
export function scoreSecurity(symbol: string): Effect.Effect<Score, UnknownSymbols | InsufficientHistory | Unavailable, MarketClient | Cache> {
  return Effect.flatMap(currentRegime, (view) => scoreOf(symbol, view));
}

/**
 * Scores in the order asked. Any unknown symbols fail the call, all of them
 * named; otherwise the first symbol short of history fails it.
 */
export function batchScore(
  symbols: ReadonlyArray<string>,
): Effect.Effect<ReadonlyArray<Score>, UnknownSymbols | InsufficientHistory | Unavailable, MarketClient | Cache> {
  return Effect.gen(function* () {
    const view = yield* currentRegime;
    const outcomes = yield* outcomesOf(symbols, view);
    const unknown = outcomes.flatMap((o) => (o instanceof UnknownSymbols ? o.symbols : []));
    if (unknown.length > 0) return yield* new UnknownSymbols({ symbols: unknown });
    const short = outcomes.find((o) => o instanceof InsufficientHistory);
    if (short !== undefined) return yield* short;
    return outcomes as ReadonlyArray<Score>;
  });
}

/**
 * The `topN` best active securities (of `sector`, when given), best first.
 * Securities the market cannot score yet (no bars, too short a history) are left out.
 */
export function rankUniverse(
  topN: number,
  sector: Sector | undefined,
): Effect.Effect<{ scores: ReadonlyArray<Score>; regime: Regime }, Unavailable, MarketClient | UniverseClient | Cache> {
  return Effect.gen(function* () {
    const [securities, view] = yield* Effect.all([activeSecurities(sector), currentRegime], { concurrency: 2 });
    const outcomes = yield* outcomesOf(
      securities.map((s) => s.symbol),
      view,
    );
    const scores = outcomes.filter((o): o is Score => !(o instanceof UnknownSymbols || o instanceof InsufficientHistory));
    return { scores: scores.sort(byCompositeDescending).slice(0, topN), regime: view.regime };
  });
}
