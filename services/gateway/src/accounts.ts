/**
 * The caller's accounts, through the portfolio service: a key acts for its
 * owner, so every account is opened for, listed by and checked against the
 * caller's owner. Account owners never change, so the owner of an account
 * seen once is remembered.
 */
import { Context, Effect, Layer } from "effect";
import { InvalidArgument, PermissionDenied, type KitError } from "@meridian/kit";
import { LruMap } from "@meridian/kit/cache";
import { ServiceClient } from "@meridian/kit/client";
import { Portfolio, type Account, type PortfolioState, type RiskProfile } from "@meridian/sdk/portfolio";
import { UnknownAccount } from "./errors.js";
import type { Principal } from "./auth.js";
import { downstreamFailure } from "./downstream.js";

/** What OpenAccount asks for (the owner is the caller's). */
export interface OpenAccountInput {
  readonly initialCashMinor: bigint;
  readonly currency: string;
  readonly riskProfile: RiskProfile;
  readonly idempotencyKey: string;
}

/** The caller's view of accounts. */
export interface AccountsShape {
  readonly open: (caller: Principal, input: OpenAccountInput) => Effect.Effect<{ account: Account; created: boolean }, UnknownAccount | KitError>;
  readonly list: (caller: Principal) => Effect.Effect<ReadonlyArray<Account>, UnknownAccount | KitError>;
  /** The account's portfolio, if the caller owns it: UnknownAccount when it does not exist, PermissionDenied when another owner's. */
  readonly portfolio: (caller: Principal, accountId: string) => Effect.Effect<PortfolioState, UnknownAccount | KitError>;
  /** Succeeds when the caller owns the account (as `portfolio` fails otherwise). */
  readonly requireOwned: (caller: Principal, accountId: string) => Effect.Effect<void, UnknownAccount | KitError>;
}

/** The accounts of callers. */
export class Accounts extends Context.Service<Accounts, AccountsShape>()("@meridian/gateway/Accounts") {}

const ownersMaxEntries = 100_000;

/** Accounts over the portfolio client. */
export const layerAccounts = Layer.effect(
  Accounts,
  Effect.gen(function* () {
    const portfolio = yield* Effect.service(ServiceClient(Portfolio));
    const owners = new LruMap<string, string>(ownersMaxEntries);
    const remember = (account: Account | undefined) => {
      if (account === undefined) return;
      owners.set(account.accountId, account.owner);
    };
    const checkOwner = (caller: Principal, accountId: string, owner: string) =>
      owner === caller.owner
        ? Effect.void
        : Effect.fail(new PermissionDenied({ reason: `account ${accountId} belongs to another owner` }, `account ${accountId} is not yours`));
    const fetchPortfolio = (caller: Principal, accountId: string) =>
      Effect.gen(function* () {
        yield* requireAccountId(accountId);
        const { portfolio: state } = yield* portfolio.getPortfolio({ accountId }).pipe(
          Effect.catchTag("UnknownAccount", () => Effect.fail(new UnknownAccount({ accountId }))),
          Effect.mapError(downstreamFailure("portfolio")),
        );
        if (state?.account === undefined) return yield* Effect.die(new Error(`portfolio returned no account for ${accountId}`));
        remember(state.account);
        yield* checkOwner(caller, accountId, state.account.owner);
        return state;
      });
    return {
      open: (caller, input) =>
        portfolio
          .openAccount({
            owner: caller.owner,
            initialCashMinor: input.initialCashMinor,
            currency: input.currency,
            riskProfile: input.riskProfile,
            // Keys are the caller's: the same key from two owners must not meet at the portfolio service.
            idempotencyKey: input.idempotencyKey === "" ? "" : `${caller.owner}/${input.idempotencyKey}`,
          })
          .pipe(
            Effect.mapError(downstreamFailure("portfolio")),
            Effect.flatMap(({ account, created }) => {
              if (account === undefined) return Effect.die(new Error("portfolio opened no account"));
              remember(account);
              return Effect.succeed({ account, created });
            }),
          ),
      list: (caller) =>
        portfolio.listAccounts({ owner: caller.owner }).pipe(
          Effect.mapError(downstreamFailure("portfolio")),
          Effect.map(({ accounts }) => {
            accounts.forEach(remember);
            return accounts;
          }),
        ),
      portfolio: fetchPortfolio,
      requireOwned: (caller, accountId) => {
        const owner = owners.get(accountId);
        if (owner !== undefined) return checkOwner(caller, accountId, owner);
        return Effect.asVoid(fetchPortfolio(caller, accountId));
      },
    };
  }),
);

function requireAccountId(accountId: string): Effect.Effect<void, InvalidArgument> {
  if (accountId.trim() !== "") return Effect.void;
  return Effect.fail(new InvalidArgument({ fieldViolations: [{ field: "account_id", description: "required" }] }));
}
