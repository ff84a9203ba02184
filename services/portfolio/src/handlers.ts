/**
 * PortfolioService's RPCs → the account rules, the store and the valuation. Nothing else:
 * validation failures become InvalidArgument with every field named, a missing account
 * UnknownAccount.
 */
import { Effect, Stream } from "effect";
import { implement, InvalidArgument } from "@meridian/kit";
import { tail } from "@meridian/kit/events";
import { Portfolio, type PortfolioState } from "@meridian/sdk/portfolio";
import { checkAccountId, checkDate, checkOwner, isAccountIdShape, readNewAccount, type Violation } from "./domain/account.js";
import { UnknownAccount } from "./errors.js";
import { AccountChangedEvent } from "./events.js";
import { accountPerformance, maxRangeDays, rangeTooLong } from "./performance.js";
import { MarketClient, Prices } from "./prices.js";
import { loadPortfolio, toAccount } from "./state.js";
import { PortfolioTuning } from "./settings.js";
import { PortfolioStore } from "./store.js";

/** The portfolio service's handlers, bound to its store, prices, market client, settings and event bus. */
export const portfolioHandlers = Effect.gen(function* () {
  const store = yield* Effect.service(PortfolioStore);
  // WatchPortfolio also checks its account's fill count itself this often: that covers a change
  // made between its first read and its following the topic, and notifications the store lost.
  const { watchRecheckMs } = yield* Effect.service(PortfolioTuning);
  const prices = yield* Effect.service(Prices);
  const market = yield* Effect.service(MarketClient);
  return yield* implement(Portfolio, {
    openAccount: (request) =>
      Effect.gen(function* () {
        const { account, violations } = readNewAccount(request);
        yield* failIfAny(violations);
        const { row, created } = yield* store.openAccount(account);
        // A key reused for a different account is a caller's bug, not a retry: say so.
        if (
          !created &&
          (row.initialCashMinor !== account.initialCashMinor || row.currency !== account.currency || row.riskProfile !== account.riskProfile)
        ) {
          yield* failIfAny([
            { field: "idempotency_key", description: `already opened account ${row.accountId} with different initial cash, currency or risk profile` },
          ]);
        }
        return { account: toAccount(row), created };
      }),
    listAccounts: (request) =>
      Effect.gen(function* () {
        yield* failIfAny(checkOwner(request.owner, "owner"));
        const rows = yield* store.listAccounts(request.owner.trim());
        return { accounts: rows.map(toAccount) };
      }),
    getPortfolio: (request) =>
      Effect.gen(function* () {
        yield* failIfAny(checkAccountId(request.accountId));
        return { portfolio: yield* loadPortfolio(store, prices, request.accountId) };
      }),
    watchPortfolio: (request) =>
      Stream.unwrap(
        Effect.gen(function* () {
          yield* failIfAny(checkAccountId(request.accountId));
          const accountId = request.accountId;
          const first = yield* loadPortfolio(store, prices, accountId);
          let sentFills = first.fillsApplied;
          // A notification newer than what was sent, or a periodic check, triggers a cheap
          // count; only a changed count reads and values the portfolio again. Bursts of fills
          // coalesce: notifications already covered by a sent state are skipped unread.
          const notified = tail(AccountChangedEvent).pipe(
            Stream.filter((e) => e.payload.accountId === accountId && e.payload.fillsApplied > sentFills),
          );
          const rechecks = Stream.tick(`${watchRecheckMs} millis`);
          const updates = Stream.merge(notified, rechecks).pipe(
            Stream.mapEffect(() => store.getAccount(accountId)),
            Stream.filter((row) => row !== undefined && row.fillsApplied !== sentFills),
            Stream.mapEffect(() => loadPortfolio(store, prices, accountId)),
            Stream.filter((state) => state.fillsApplied !== sentFills),
            Stream.tap((state: PortfolioState) =>
              Effect.sync(() => {
                sentFills = state.fillsApplied;
              }),
            ),
          );
          return Stream.concat(Stream.make(first), updates).pipe(Stream.map((portfolio) => ({ portfolio })));
        }),
      ),
    getPerformance: (request) =>
      Effect.gen(function* () {
        const violations = [...checkAccountId(request.accountId), ...checkDate(request.from, "from"), ...checkDate(request.to, "to")];
        if (violations.length === 0 && request.from !== "" && request.to !== "" && request.to < request.from) {
          violations.push({ field: "to", description: "must not be before from" });
        }
        if (violations.length === 0 && request.from !== "" && rangeTooLong(request.from, request.to || new Date().toISOString().slice(0, 10))) {
          violations.push({ field: "from", description: `the range must span at most ${maxRangeDays} days` });
        }
        yield* failIfAny(violations);
        const account = isAccountIdShape(request.accountId) ? yield* store.getAccount(request.accountId) : undefined;
        if (account === undefined) return yield* new UnknownAccount({ accountId: request.accountId });
        const { points, totalReturn } = yield* accountPerformance({ store, prices, market }, account, {
          from: request.from === "" ? undefined : request.from,
          to: request.to === "" ? undefined : request.to,
        });
        return { points, totalReturn };
      }),
  });
});

function failIfAny(violations: ReadonlyArray<Violation>): Effect.Effect<void, InvalidArgument> {
  return violations.length === 0 ? Effect.void : Effect.fail(new InvalidArgument({ fieldViolations: [...violations] }));
}
