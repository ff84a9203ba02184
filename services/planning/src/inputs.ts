/**
 * What a plan is built from, read from the other services through their
 * clients: the account (portfolio), the securities tradable in its currency
 * (universe), the ranking (scoring), the regime and the quotes (market).
 */
import { Effect } from "effect";
import { Unavailable } from "@meridian/kit";
import { ServiceClient } from "@meridian/kit/client";
import type { EffectClient } from "@meridian/sdk";
import { Market, Regime, type Quote } from "@meridian/sdk/market";
import { Portfolio, type PortfolioState } from "@meridian/sdk/portfolio";
import { Scoring } from "@meridian/sdk/scoring";
import { Universe } from "@meridian/sdk/universe";
import type { Candidate, Holding, PlanInput, PlanRules } from "./domain/plan.js";
import { downstreamFailure } from "./downstream.js";
import { UnknownAccount } from "./errors.js";

/** The clients planning reads from. */
export type PortfolioClient = EffectClient<typeof Portfolio>;
export type MarketClient = EffectClient<typeof Market>;
export type ScoringClient = EffectClient<typeof Scoring>;
export type UniverseClient = EffectClient<typeof Universe>;

/** The most RankUniverse and GetQuotes take at once. */
const maxSymbols = 500;

/** A plan's inputs, with the account they are for. */
export interface GatheredInput {
  readonly input: PlanInput;
  readonly currency: string;
  /** The account's fills the portfolio had applied when it was read. */
  readonly fillsApplied: bigint;
}

/** What the portfolio must have applied before the plan is built on it, and how long to wait for it. */
export interface CatchUp {
  /** Fills of the account the portfolio must have applied (its last executed plan's); none when undefined. */
  readonly fillsExpected: bigint | undefined;
  readonly timeoutMs: number;
}

/** How often a lagging portfolio is read again. */
const catchUpPollMs = 50;

/** Reads everything a plan of `accountId` is built from; an unknown account is UnknownAccount. */
export function gatherPlanInput(
  accountId: string,
  rules: PlanRules,
  catchUp: CatchUp,
): Effect.Effect<
  GatheredInput,
  UnknownAccount | Unavailable,
  PortfolioClient | MarketClient | ScoringClient | UniverseClient
> {
  return Effect.gen(function* () {
    const portfolio = yield* Effect.service(ServiceClient(Portfolio));
    const market = yield* Effect.service(ServiceClient(Market));
    const scoring = yield* Effect.service(ServiceClient(Scoring));
    const universe = yield* Effect.service(ServiceClient(Universe));

    const state = yield* caughtUpPortfolio(portfolio, accountId, catchUp);
    const currency = state.account!.currency;

    const [regime, tradable, ranked] = yield* Effect.all(
      [currentRegime(market), tradableSymbols(universe, currency), rankedScores(scoring)],
      { concurrency: "unbounded" },
    );
    const eligible = ranked.filter((s) => tradable.has(s.symbol));
    const held = state.positions.filter((p) => p.quantity > 0n);
    const quotes = yield* latestQuotes(market, [...new Set([...eligible.map((s) => s.symbol), ...held.map((p) => p.symbol)])]);

    // A holding without a quote from market keeps the price portfolio valued it at.
    const holdings: Holding[] = held.map((p) => ({
      symbol: p.symbol,
      quantity: p.quantity,
      priceMicros: quotes.get(p.symbol)?.priceMicros ?? p.lastPriceMicros,
    }));
    const candidates: Candidate[] = eligible.flatMap((s) => {
      const quote = quotes.get(s.symbol);
      return quote === undefined || quote.priceMicros <= 0n ? [] : [{ symbol: s.symbol, score: s.composite, priceMicros: quote.priceMicros }];
    });
    return {
      currency,
      fillsApplied: state.fillsApplied,
      input: { regime, riskProfile: state.account!.riskProfile, cashMinor: state.cashMinor, holdings, candidates, rules },
    };
  });
}

/**
 * The account's portfolio, once it has applied the fills the account's last executed plan made:
 * portfolio applies fills from trading's events, a moment after trading made them, and a plan
 * built on holdings that lag would buy what was just bought. Unavailable if it is still behind
 * after `timeoutMs`; an unknown account is UnknownAccount.
 */
function caughtUpPortfolio(
  portfolio: PortfolioClient,
  accountId: string,
  catchUp: CatchUp,
): Effect.Effect<PortfolioState, UnknownAccount | Unavailable> {
  const read = portfolio.getPortfolio({ accountId }).pipe(
    Effect.flatMap(({ portfolio }) =>
      portfolio?.account === undefined ? Effect.die(new Error("GetPortfolio answered without an account")) : Effect.succeed(portfolio),
    ),
    Effect.catchTag("UnknownAccount", () => Effect.fail(new UnknownAccount({ accountId }))),
    Effect.catch((e): Effect.Effect<never, UnknownAccount | Unavailable> =>
      e._tag === "UnknownAccount" ? Effect.fail(e) : downstreamFailure("portfolio", "GetPortfolio", e),
    ),
  );
  const expected = catchUp.fillsExpected;
  if (expected === undefined) return read;
  return Effect.gen(function* () {
    const deadline = Date.now() + catchUp.timeoutMs;
    for (;;) {
      const state = yield* read;
      if (state.fillsApplied >= expected) return state;
      if (Date.now() >= deadline) {
        return yield* Effect.fail(
          new Unavailable(
            { reason: `portfolio has applied ${state.fillsApplied} of the account's ${expected} fills after ${catchUp.timeoutMs} ms` },
            "portfolio has not yet applied the fills of the account's last plan; retry shortly",
          ),
        );
      }
      yield* Effect.sleep(catchUpPollMs);
    }
  });
}

/** The current regime; a market too short of history to classify it plans as unknown (cautiously). */
function currentRegime(market: MarketClient): Effect.Effect<Regime, Unavailable> {
  return market.getCurrentRegime({}).pipe(
    Effect.map(({ reading }) => reading?.regime ?? Regime.UNSPECIFIED),
    Effect.catchTag("InsufficientHistory", () => Effect.succeed(Regime.UNSPECIFIED)),
    Effect.catch((e) => downstreamFailure("market", "GetCurrentRegime", e)),
  );
}

/** Active securities in `currency`: the only ones trading accepts for the account. */
function tradableSymbols(universe: UniverseClient, currency: string): Effect.Effect<Set<string>, Unavailable> {
  return Effect.gen(function* () {
    const symbols = new Set<string>();
    let pageToken = "";
    do {
      const page = yield* universe
        .listSecurities({ currency, active: true, page: { pageSize: maxSymbols, pageToken } })
        .pipe(Effect.catch((e) => downstreamFailure("universe", "ListSecurities", e)));
      for (const s of page.securities) symbols.add(s.symbol);
      pageToken = page.page?.nextPageToken ?? "";
    } while (pageToken !== "");
    return symbols;
  });
}

/** Every ranked security, best first. */
function rankedScores(scoring: ScoringClient) {
  return scoring.rankUniverse({ topN: maxSymbols }).pipe(
    Effect.map(({ scores }) => scores),
    Effect.catch((e) => downstreamFailure("scoring", "RankUniverse", e)),
  );
}

/**
 * The latest quote of each symbol that has one. Market fails the whole call on
 * symbols without bars, naming them: those are left out and the rest asked again.
 */
function latestQuotes(market: MarketClient, symbols: ReadonlyArray<string>): Effect.Effect<Map<string, Quote>, Unavailable> {
  const ask = (batch: ReadonlyArray<string>) =>
    batch.length === 0
      ? Effect.succeed([] as Quote[])
      : market.getQuotes({ symbols: [...batch] }).pipe(Effect.map(({ quotes }) => quotes));
  return Effect.forEach(chunks(symbols, maxSymbols), (batch) =>
    ask(batch).pipe(
      Effect.catchTag("UnknownSymbols", (e) => {
        const unknown = new Set(e.symbols);
        return ask(batch.filter((s) => !unknown.has(s)));
      }),
      Effect.catch((e) => downstreamFailure("market", "GetQuotes", e)),
    ),
  ).pipe(Effect.map((batches) => new Map(batches.flat().map((q) => [q.symbol, q]))));
}

function chunks<A>(items: ReadonlyArray<A>, size: number): A[][] {
  const out: A[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
