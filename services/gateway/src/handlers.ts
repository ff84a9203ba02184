/**
 * GatewayService's RPCs. Every one first resolves the caller from its API key
 * (Unauthenticated without a valid one); account RPCs act for the key's owner
 * and refuse another owner's account (PermissionDenied). The work itself is
 * other services', reached through their SDK clients.
 */
import { Effect, Stream } from "effect";
import { implement } from "@meridian/kit";
import { ServiceClient } from "@meridian/kit/client";
import { Gateway } from "@meridian/sdk/gateway";
import { Market } from "@meridian/sdk/market";
import { Planning } from "@meridian/sdk/planning";
import { Trading } from "@meridian/sdk/trading";
import { Accounts } from "./accounts.js";
import { caller } from "./auth.js";
import { downstreamFailure } from "./downstream.js";
import { UnknownAccount } from "./errors.js";
import { accountEvents } from "./events.js";
import { SystemStatus } from "./status.js";

/** The gateway's handlers, bound to the accounts, status, clients and event bus. */
export const gatewayHandlers = Effect.gen(function* () {
  const accounts = yield* Effect.service(Accounts);
  const status = yield* Effect.service(SystemStatus);
  const market = yield* Effect.service(ServiceClient(Market));
  const planning = yield* Effect.service(ServiceClient(Planning));
  const trading = yield* Effect.service(ServiceClient(Trading));
  return yield* implement(Gateway, {
    getSystemStatus: () =>
      Effect.gen(function* () {
        yield* caller;
        const report = yield* status.check();
        return { services: report.services.map((s) => ({ ...s, latencyMs: s.latencyMs })), healthy: report.healthy };
      }),
    openAccount: (request) =>
      Effect.gen(function* () {
        const who = yield* caller;
        return yield* accounts.open(who, request);
      }),
    listAccounts: () =>
      Effect.gen(function* () {
        const who = yield* caller;
        return { accounts: [...(yield* accounts.list(who))] };
      }),
    getPortfolio: (request) =>
      Effect.gen(function* () {
        const who = yield* caller;
        return { portfolio: yield* accounts.portfolio(who, request.accountId) };
      }),
    runTradingCycle: (request) =>
      Effect.gen(function* () {
        const who = yield* caller;
        const accountId = request.accountId;
        yield* accounts.requireOwned(who, accountId);
        const { reading } = yield* market.getCurrentRegime({}).pipe(Effect.mapError(downstreamFailure("market")));
        const { plan } = yield* planning.proposeRebalance({ accountId }).pipe(
          Effect.catchTag("UnknownAccount", () => Effect.fail(new UnknownAccount({ accountId }))),
          Effect.mapError(downstreamFailure("planning")),
        );
        if (plan === undefined) return yield* Effect.die(new Error("planning proposed no plan"));
        const executed = yield* planning.executePlan({ planId: plan.planId }).pipe(Effect.mapError(downstreamFailure("planning")));
        return { regime: reading, plan: executed.plan ?? plan, orders: executed.orders };
      }),
    placeOrder: (request) =>
      Effect.gen(function* () {
        const who = yield* caller;
        const accountId = request.accountId;
        yield* accounts.requireOwned(who, accountId);
        // Keys are unique per account at the trading service, and the account is the caller's.
        const { order, created } = yield* trading
          .placeOrder({
            accountId,
            symbol: request.symbol,
            side: request.side,
            quantity: request.quantity,
            type: request.type,
            limitPriceMicros: request.limitPriceMicros,
            idempotencyKey: request.idempotencyKey,
          })
          .pipe(
            Effect.catchTag("UnknownAccount", () => Effect.fail(new UnknownAccount({ accountId }))),
            Effect.mapError(downstreamFailure("trading")),
          );
        return { order, created };
      }),
    watchEvents: (request) =>
      Stream.unwrap(
        Effect.gen(function* () {
          const who = yield* caller;
          yield* accounts.requireOwned(who, request.accountId);
          return accountEvents(request.accountId);
        }),
      ),
  });
});
