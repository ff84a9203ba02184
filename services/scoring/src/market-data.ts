/**
 * What scoring reads from the market service, through its SDK client (never
 * its code): the current regime, and a symbol's recent closes. The market's
 * answers map to scoring's terms; a market that cannot answer (down, slow,
 * breaker open, overloaded) is `Unavailable` naming it, at once.
 */
import { Effect } from "effect";
import { ServiceClient } from "@meridian/kit/client";
import type { Unavailable } from "@meridian/kit";
import type { EffectClient } from "@meridian/sdk";
import { Market, Regime } from "@meridian/sdk/market";
import { closesNeeded } from "./domain/components.js";
import type { Close } from "./domain/score.js";
import { downstreamFailure } from "./downstream.js";
import { UnknownSymbols } from "./errors.js";

/** The market client this service calls through. */
export const MarketClient = ServiceClient(Market);
export type MarketClient = EffectClient<typeof Market>;

/** The regime weights are chosen for, and the date of the market's latest bars ("" when unknown). */
export interface RegimeView {
  readonly regime: Regime;
  readonly asOf: string;
}

/** The market's current regime; a market with too little history to classify gives REGIME_UNSPECIFIED (neutral weights). */
export const currentRegime: Effect.Effect<RegimeView, Unavailable, MarketClient> = Effect.flatMap(
  Effect.service(MarketClient),
  (market) =>
    market.getCurrentRegime({}).pipe(
      Effect.map(({ reading }) => ({ regime: reading?.regime ?? Regime.UNSPECIFIED, asOf: reading?.asOf ?? "" })),
      Effect.catchTag("InsufficientHistory", () => Effect.succeed({ regime: Regime.UNSPECIFIED, asOf: "" })),
      Effect.catch((error) => downstreamFailure("market", "GetCurrentRegime", error)),
    ),
);

/**
 * Calendar days of bars asked for before the market's latest date: 253 trading days
 * span about 367 calendar days; the margin covers holidays. A series found short is asked again in full.
 */
export const windowCalendarDays = 400;

/**
 * The symbol's closes, oldest first, enough for a score when the market has them:
 * the last ~400 calendar days before `asOf`, or all of them if that window holds too few.
 * A symbol the market does not know, or has no bars for, is UnknownSymbols.
 */
export function closesOf(symbol: string, asOf: string): Effect.Effect<ReadonlyArray<Close>, UnknownSymbols | Unavailable, MarketClient> {
  return Effect.gen(function* () {
    const market = yield* Effect.service(MarketClient);
    const read = (from: string) =>
      market.getBars({ symbol, from, to: "" }).pipe(
        Effect.map(({ bars }) => bars.map((bar) => ({ date: bar.date, close: Number(bar.closeMicros) / 1e6 }))),
        Effect.catch((error): Effect.Effect<never, UnknownSymbols | Unavailable> =>
          error._tag === "UnknownSymbols" ? Effect.fail(new UnknownSymbols({ symbols: [symbol] })) : downstreamFailure("market", "GetBars", error),
        ),
      );
    const from = asOf === "" ? "" : daysBefore(asOf, windowCalendarDays);
    let closes = yield* read(from);
    if (closes.length < closesNeeded && from !== "") closes = yield* read("");
    if (closes.length === 0) return yield* new UnknownSymbols({ symbols: [symbol] });
    return closes;
  });
}

/** "YYYY-MM-DD" `days` calendar days before `date`. */
export function daysBefore(date: string, days: number): string {
  const at = Date.parse(`${date}T00:00:00Z`);
  if (Number.isNaN(at)) return "";
  return new Date(at - days * 86_400_000).toISOString().slice(0, 10);
}
