/**
 * An account's portfolio as the RPCs send it: stored holdings valued at prices.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Effect } from "effect";
import type { Unavailable } from "@meridian/kit";
import { AccountSchema, PortfolioStateSchema, type Account, type PortfolioState } from "@meridian/sdk/portfolio";
import { isAccountIdShape } from "./domain/account.js";
import { valueHoldings } from "./domain/valuation.js";
import { UnknownAccount } from "./errors.js";
import type { PricesShape } from "./prices.js";
import type { AccountRow, PortfolioStoreShape } from "./store.js";

/** The account's portfolio valued now; UnknownAccount when no account has the id. */
export function loadPortfolio(
  store: PortfolioStoreShape,
  prices: PricesShape,
  accountId: string,
): Effect.Effect<PortfolioState, UnknownAccount | Unavailable> {
  return Effect.gen(function* () {
    // Not a UUID: no account can have it, and the database need not be asked.
    if (!isAccountIdShape(accountId)) return yield* new UnknownAccount({ accountId });
    const holdings = yield* store.getHoldings(accountId);
    if (holdings === undefined) return yield* new UnknownAccount({ accountId });
    const { account, positions } = holdings;
    const pricing = yield* prices.forPositions(positions);
    const valuation = valueHoldings(account.cashMinor, positions, pricing.prices);
    return create(PortfolioStateSchema, {
      account: toAccount(account),
      cashMinor: account.cashMinor,
      positions: valuation.positions.map((p) => ({ ...p })),
      positionsValueMinor: valuation.positionsValueMinor,
      totalValueMinor: valuation.totalValueMinor,
      unrealizedPnlMinor: valuation.unrealizedPnlMinor,
      realizedPnlMinor: account.realizedPnlMinor,
      fillsApplied: account.fillsApplied,
      valuedAsOf: valuation.valuedAsOf,
      pricesStale: pricing.stale,
    });
  });
}

/** The Account message of a stored account. */
export function toAccount(row: AccountRow): Account {
  return create(AccountSchema, {
    accountId: row.accountId,
    owner: row.owner,
    riskProfile: row.riskProfile,
    currency: row.currency,
    initialCashMinor: row.initialCashMinor,
    openedAt: timestampFromDate(row.openedAt),
  });
}
