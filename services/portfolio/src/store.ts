/**
 * The accounts, positions and fill ledger of the portfolio service: the SQL the handlers use,
 * next to the code that uses it. Fills are written by the consumer (fills.ts), in its transaction.
 */
import { Context, Effect, Layer } from "effect";
import type { Unavailable } from "@meridian/kit";
import { query, type Sql } from "@meridian/kit/postgres";
import type { RiskProfile } from "@meridian/sdk/portfolio";
import type { NewAccount } from "./domain/account.js";
import type { Holding } from "./domain/holdings.js";
import type { LedgerEntry } from "./domain/performance.js";

/** An account as stored. */
export interface AccountRow {
  readonly accountId: string;
  readonly owner: string;
  readonly riskProfile: RiskProfile;
  readonly currency: string;
  readonly initialCashMinor: bigint;
  readonly idempotencyKey: string;
  readonly openedAt: Date;
  readonly cashMinor: bigint;
  readonly realizedPnlMinor: bigint;
  readonly fillsApplied: bigint;
}

/** A position as stored: the holding and the latest fill's price (the fallback valuation). */
export interface PositionRow extends Holding {
  readonly lastPriceMicros: bigint;
  /** "YYYY-MM-DD" */
  readonly lastPriceDate: string;
}

/** What the handlers need from storage. */
export interface PortfolioStoreShape {
  /** Opens the account, or returns the one its (owner, idempotency key) opened before. */
  readonly openAccount: (account: NewAccount) => Effect.Effect<{ row: AccountRow; created: boolean }, Unavailable>;
  /** An owner's accounts, oldest first. */
  readonly listAccounts: (owner: string) => Effect.Effect<AccountRow[], Unavailable>;
  readonly getAccount: (accountId: string) => Effect.Effect<AccountRow | undefined, Unavailable>;
  /** The account and its positions (by symbol), read together in one statement. */
  readonly getHoldings: (accountId: string) => Effect.Effect<{ account: AccountRow; positions: PositionRow[] } | undefined, Unavailable>;
  /** The account's applied fills with dates up to `to` (all when undefined), by date then application order. */
  readonly ledger: (accountId: string, to: string | undefined) => Effect.Effect<LedgerEntry[], Unavailable>;
}

/** Storage of accounts. */
export class PortfolioStore extends Context.Service<PortfolioStore, PortfolioStoreShape>()("@meridian/portfolio/PortfolioStore") {}

// The columns of an account, as read by every query (int8 comes back as text: read with BigInt).
interface RawAccount {
  account_id: string;
  owner: string;
  risk_profile: number;
  currency: string;
  initial_cash_minor: string;
  idempotency_key: string;
  opened_at: Date;
  cash_minor: string;
  realized_pnl_minor: string;
  fills_applied: string;
}

// An account row out of its raw columns.
function toAccountRow(raw: RawAccount): AccountRow {
  return {
    accountId: raw.account_id,
    owner: raw.owner,
    riskProfile: raw.risk_profile as RiskProfile,
    currency: raw.currency,
    initialCashMinor: BigInt(raw.initial_cash_minor),
    idempotencyKey: raw.idempotency_key,
    openedAt: raw.opened_at,
    cashMinor: BigInt(raw.cash_minor),
    realizedPnlMinor: BigInt(raw.realized_pnl_minor),
    fillsApplied: BigInt(raw.fills_applied),
  };
}

interface RawPosition {
  symbol: string;
  quantity: string;
  cost_basis_minor: string;
  last_price_micros: string;
  last_price_date: string;
}

/** The PostgreSQL store, over the service's pool. */
export const layerPortfolioStore: Layer.Layer<PortfolioStore, never, Sql> = Layer.effect(
  PortfolioStore,
  Effect.map(Effect.context<Sql>(), (context) => {
    const run = <A>(effect: Effect.Effect<A, Unavailable, Sql>) => Effect.provideContext(effect, context);
    return {
      openAccount: (account) =>
        run(
          query(async (sql) => {
            const inserted = await sql<RawAccount[]>`
              insert into accounts (account_id, owner, risk_profile, currency, initial_cash_minor, idempotency_key, cash_minor)
              values (${Bun.randomUUIDv7()}, ${account.owner}, ${account.riskProfile}, ${account.currency},
                      ${account.initialCashMinor.toString()}::bigint, ${account.idempotencyKey}, ${account.initialCashMinor.toString()}::bigint)
              on conflict (owner, idempotency_key) do nothing
              returning *`;
            if (inserted[0] !== undefined) return { row: toAccountRow(inserted[0]), created: true };
            const [existing] = await sql<RawAccount[]>`
              select * from accounts where owner = ${account.owner} and idempotency_key = ${account.idempotencyKey}`;
            if (existing === undefined) throw new Error("account vanished after an idempotency-key conflict");
            return { row: toAccountRow(existing), created: false };
          }),
        ),
      listAccounts: (owner) =>
        run(
          query((sql) => sql<RawAccount[]>`
            select * from accounts where owner = ${owner} order by opened_at, account_id`),
        ).pipe(Effect.map((rows) => rows.map(toAccountRow))),
      getAccount: (accountId) =>
        run(query((sql) => sql<RawAccount[]>`select * from accounts where account_id = ${accountId}::uuid`)).pipe(
          Effect.map((rows) => (rows[0] === undefined ? undefined : toAccountRow(rows[0]))),
        ),
      getHoldings: (accountId) =>
        run(
          // One round trip: trading asks for this on every order, so it must stay cheap. Positions
          // travel as JSON with int8 as text, never as JSON numbers (which lose digits past 2^53).
          query((sql) => sql<Array<RawAccount & { positions: RawPosition[] }>>`
            select a.*, coalesce((
              select json_agg(json_build_object(
                'symbol', p.symbol, 'quantity', p.quantity::text, 'cost_basis_minor', p.cost_basis_minor::text,
                'last_price_micros', p.last_price_micros::text, 'last_price_date', p.last_price_date::text) order by p.symbol)
              from positions p where p.account_id = a.account_id), '[]'::json) as positions
            from accounts a where a.account_id = ${accountId}::uuid`),
        ).pipe(
          Effect.map(([row]) => {
            if (row === undefined) return undefined;
            const { positions, ...account } = row;
            return {
              account: toAccountRow(account),
              positions: positions.map((p) => ({
                symbol: p.symbol,
                quantity: BigInt(p.quantity),
                costBasisMinor: BigInt(p.cost_basis_minor),
                lastPriceMicros: BigInt(p.last_price_micros),
                lastPriceDate: p.last_price_date,
              })),
            };
          }),
        ),
      ledger: (accountId, to) =>
        run(
          query((sql) => sql<Array<{ date: string; symbol: string; quantity_delta: string; cash_delta_minor: string; price_micros: string }>>`
            select (filled_at at time zone 'UTC')::date::text as date, symbol,
                   (case when side = 1 then quantity else -quantity end)::text as quantity_delta,
                   cash_delta_minor::text, price_micros::text
            from fills
            where account_id = ${accountId}::uuid
              ${to === undefined ? sql`` : sql`and (filled_at at time zone 'UTC')::date <= ${to}::date`}
            order by (filled_at at time zone 'UTC')::date, seq`),
        ).pipe(
          Effect.map((rows) =>
            rows.map((r) => ({
              date: r.date,
              symbol: r.symbol,
              quantityDelta: BigInt(r.quantity_delta),
              cashDeltaMinor: BigInt(r.cash_delta_minor),
              priceMicros: BigInt(r.price_micros),
            })),
          ),
        ),
    };
  }),
);
