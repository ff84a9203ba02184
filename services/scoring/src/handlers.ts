/**
 * ScoringService's RPCs → the request rules and the scoring effects. Nothing
 * else: broken rules become InvalidArgument with every field named.
 */
import { Effect } from "effect";
import { implement, InvalidArgument } from "@meridian/kit";
import { Scoring } from "@meridian/sdk/scoring";
import { Sector } from "@meridian/sdk/universe";
import { checkRanking, checkSymbol, checkSymbols, type Violation } from "./domain/requests.js";
import { batchScore, rankUniverse, scoreSecurity } from "./scores.js";

/** The scoring service's handlers, bound to the market and universe clients and the cache of the context. */
export const scoringHandlers = implement(Scoring, {
  scoreSecurity: (request) =>
    Effect.gen(function* () {
      yield* failIfAny(checkSymbol(request.symbol, "symbol"));
      return { score: yield* scoreSecurity(request.symbol) };
    }),
  batchScore: (request) =>
    Effect.gen(function* () {
      yield* failIfAny(checkSymbols(request.symbols));
      return { scores: [...(yield* batchScore(request.symbols))] };
    }),
  rankUniverse: (request) =>
    Effect.gen(function* () {
      yield* failIfAny(checkRanking(request));
      const ranked = yield* rankUniverse(request.topN, request.sector === Sector.UNSPECIFIED ? undefined : request.sector);
      return { scores: [...ranked.scores], regime: ranked.regime };
    }),
});

function failIfAny(violations: ReadonlyArray<Violation>): Effect.Effect<void, InvalidArgument> {
  return violations.length === 0 ? Effect.void : Effect.fail(new InvalidArgument({ fieldViolations: [...violations] }));
}
