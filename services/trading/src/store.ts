/**
 * Orders, fills and trading's ledger in PostgreSQL: the SQL of the trading
 * service. Every change to an order is one transaction with its outbox event;
 * every decision about an account runs under that account's row lock.
 */
import { Context, Effect, Layer } from "effect";
import type postgres from "postgres";
import type { Unavailable } from "@meridian/kit";
import { LruMap } from "@meridian/kit/cache";
import { Outbox, type EventMeta, type OutboxShape } from "@meridian/kit/events";
import { makeBatcher } from "@meridian/kit/batch";
import { isConnectionFailure, query, Sql } from "@meridian/kit/postgres";
import { OrderSide, OrderStatus } from "@meridian/sdk/trading";
import { buyHoldMinor } from "./domain/buying-power.js";
import { sameTerms, type OrderTerms } from "./domain/order.js";
import { cashEffectMinor, feeMinor, grossAmountMinor } from "./domain/money.js";
import { orderCancelled, orderCancelledOf, orderFilled, orderFilledOf, orderPlaced, orderPlacedOf } from "./events.js";
import { moveHolding } from "./ledger.js";
import { fillRestingOrders, type DayBar } from "./resting.js";
import type { AccountFacts, FillRecord, OrderRecord } from "./records.js";
import { int8, orderColumns, readFills, readOrder, toOrder, type OrderRow } from "./rows.js";

/** What PlaceOrder asks the store to do, once everything outside the database is known. */
export interface Placement {
  readonly terms: OrderTerms;
  /** The account's (and the security's) currency. */
  readonly currency: string;
  /** Market orders: the price they fill at now. Limit orders: undefined, they rest. */
  readonly fillPriceMicros: bigint | undefined;
  /** The latest quote's date: bars after it may fill a resting order ('' when unknown). */
  readonly restsAfter: string;
  readonly feeBps: number;
  readonly meta: EventMeta;
}

/** How a placement ended. */
export type PlaceOutcome =
  | { readonly _tag: "Placed"; readonly order: OrderRecord }
  | { readonly _tag: "Existing"; readonly order: OrderRecord }
  | { readonly _tag: "KeyReused"; readonly orderId: string }
  | { readonly _tag: "InsufficientFunds"; readonly requiredMinor: bigint; readonly availableMinor: bigint }
  | { readonly _tag: "InsufficientPosition"; readonly requested: bigint; readonly available: bigint };

/** How a cancellation ended. */
export type CancelOutcome =
  | { readonly _tag: "Cancelled"; readonly order: OrderRecord }
  | { readonly _tag: "NotCancellable"; readonly status: OrderStatus }
  | { readonly _tag: "Unknown" };

/** What the handlers and the limit-order consumer need from storage. */
export interface OrderStoreShape {
  /**
   * In one query: the order the account placed with this idempotency key, if any, and the
   * account's fixed facts, if it has placed an order before.
   */
  readonly lookup: (
    accountId: string,
    idempotencyKey: string,
  ) => Effect.Effect<{ readonly earlier: OrderRecord | undefined; readonly facts: AccountFacts | undefined }, Unavailable>;
  /**
   * The facts of an account this instance has seen in the database (by `lookup` or
   * `registerAccount`): they never change, so no query is needed to know them again.
   */
  readonly knownFacts: (accountId: string) => AccountFacts | undefined;
  /** Records an account's facts (from portfolio) before its first order; a no-op when known. */
  readonly registerAccount: (accountId: string, facts: AccountFacts) => Effect.Effect<void, Unavailable>;
  /** Places the order under the account's lock: idempotency, funds or position, the order, its fill, their events. */
  readonly place: (placement: Placement) => Effect.Effect<PlaceOutcome, Unavailable>;
  /** Cancels an open order under its account's lock, with its event. */
  readonly cancel: (orderId: string, reason: string, meta: EventMeta) => Effect.Effect<CancelOutcome, Unavailable>;
  readonly get: (orderId: string) => Effect.Effect<OrderRecord | undefined, Unavailable>;
  /** An account's orders, newest first, after the cursor `after` (an order id), at most `limit`. */
  readonly list: (
    accountId: string,
    status: OrderStatus | undefined,
    after: string | undefined,
    limit: number,
  ) => Effect.Effect<OrderRecord[], Unavailable>;
  /** Fills, in `tx`, the symbol's open limit orders that these bars cross; returns how many filled. */
  readonly fillResting: (
    tx: postgres.TransactionSql,
    symbol: string,
    bars: ReadonlyArray<DayBar>,
    feeBps: number,
    meta: EventMeta,
  ) => Promise<number>;
}

/** How many accounts' facts an instance remembers (the least recently used are forgotten first, and learnt again when needed). */
const knownAccountsMax = 100_000;

/**
 * Placements waiting while others run go together in one statement: at most this many in one,
 * and at most `placingStatements` statements at once (of the pool's 10 connections; the rest
 * serve reads, cancels and the relay). On 2 cores, a few statements at once keep PostgreSQL busy;
 * more would only split the waiting placements into smaller batches.
 */
const placementsPerStatement = 32;
const placingStatements = 4;

/** Storage of orders and fills. */
export class OrderStore extends Context.Service<OrderStore, OrderStoreShape>()("@meridian/trading/OrderStore") {}

/** The PostgreSQL store, over the service's pool and outbox. */
export const layerOrderStore: Layer.Layer<OrderStore, never, Sql | Outbox> = Layer.effect(
  OrderStore,
  Effect.gen(function* () {
    const context = yield* Effect.context<Sql>();
    const outbox = yield* Effect.service(Outbox);
    const pool = yield* Effect.service(Sql);
    const run = <A>(work: (sql: postgres.Sql) => Promise<A>) => Effect.provideContext(query(work), context);
    // One account per statement (its ledger and holding rows change once in it), and in one
    // running statement at a time: the account's next placement waits for this statement to end,
    // and is decided after it, rather than waiting on the account's row lock inside another
    // statement and holding up every other placement of that one.
    const placeBatched = makeBatcher<Placement, PromiseSettledResult<PlaceOutcome>>({
      maxBatch: placementsPerStatement,
      maxInFlight: placingStatements,
      keyOf: (placement) => placement.terms.accountId,
      run: async (placements) => {
        try {
          return (await placeAll(pool, outbox, placements)).map((value) => ({ status: "fulfilled", value }));
        } catch (cause) {
          // A lost connection fails every placement of the statement (it may have committed: each
          // caller retries with its key and gets its order). Another failure is one placement's
          // (the statement did nothing): each alone again, so only its own call fails.
          if (placements.length === 1 || isConnectionFailure(cause)) throw cause;
          return Promise.allSettled(placements.map(async (placement) => (await placeAll(pool, outbox, [placement]))[0]!));
        }
      },
    });
    const known = new LruMap<string, AccountFacts>(knownAccountsMax);
    return {
      lookup: (accountId, idempotencyKey) =>
        run(async (sql) => {
          const [row] = await sql<Array<Partial<OrderRow> & { account_currency: string | null; initial_cash_minor: string | null }>>`
            select a.currency as account_currency, a.initial_cash_minor, o.*
            from (select 1) as one
            left join accounts a on a.account_id = ${accountId}
            left join orders o on o.account_id = ${accountId} and o.idempotency_key = ${idempotencyKey}`;
          const facts =
            row?.account_currency == null || row.initial_cash_minor == null
              ? undefined
              : { currency: row.account_currency, initialCashMinor: BigInt(row.initial_cash_minor) };
          const earlier = row?.order_id == null ? undefined : await readOrder(sql, row as OrderRow);
          if (facts !== undefined) known.set(accountId, facts);
          return { earlier, facts };
        }),
      knownFacts: (accountId) => known.get(accountId),
      registerAccount: (accountId, facts) =>
        run(async (sql) => {
          // A row another placement registered first holds the same facts: portfolio fixed them at opening.
          await sql`
            insert into accounts (account_id, currency, initial_cash_minor, cash_minor)
            values (${accountId}, ${facts.currency}, ${int8(facts.initialCashMinor)}::bigint, ${int8(facts.initialCashMinor)}::bigint)
            on conflict (account_id) do nothing`;
          known.set(accountId, facts);
        }),
      place: (placement) =>
        run(async () => {
          const settled = await placeBatched.submit(placement);
          if (settled.status === "rejected") throw settled.reason;
          return settled.value;
        }),
      cancel: (orderId, reason, meta) =>
        run(async (sql) => {
          const [owner] = await sql<{ account_id: string }[]>`select account_id from orders where order_id = ${orderId}`;
          if (owner === undefined) return { _tag: "Unknown" } as const;
          return sql.begin((tx) => cancel(tx, outbox, owner.account_id, orderId, reason, meta)) as Promise<CancelOutcome>;
        }),
      get: (orderId) =>
        run(async (sql) => {
          const [row] = await sql<OrderRow[]>`select ${sql.unsafe(orderColumns)} from orders where order_id = ${orderId}`;
          return row === undefined ? undefined : readOrder(sql, row);
        }),
      list: (accountId, status, after, limit) =>
        run(async (sql) => {
          const rows = await sql<OrderRow[]>`
            select ${sql.unsafe(orderColumns)} from orders
            where account_id = ${accountId}
              ${status === undefined ? sql`` : sql`and status = ${status}`}
              ${after === undefined ? sql`` : sql`and order_id < ${after}`}
            order by order_id desc
            limit ${limit}`;
          const fills = await readFills(sql, rows.map((r) => r.order_id));
          return rows.map((row) => toOrder(row, fills.get(row.order_id) ?? []));
        }),
      fillResting: (tx, symbol, bars, feeBps, meta) => fillRestingOrders(tx, outbox, symbol, bars, feeBps, meta),
    };
  }),
);

/** A placement worked out before the statement: the order, its fill, and what they change. */
interface PlannedOrder {
  readonly placement: Placement;
  readonly order: OrderRecord;
  readonly fill: FillRecord | undefined;
  readonly isBuy: boolean;
  readonly requiredMinor: bigint;
  readonly cashDeltaMinor: bigint;
  readonly filledDelta: bigint;
  readonly offeredDelta: bigint;
}

function planOrder(p: Placement): PlannedOrder {
  const { terms } = p;
  const isBuy = terms.side === OrderSide.BUY;
  const price = p.fillPriceMicros ?? terms.limitPriceMicros;
  const now = new Date();
  const orderId = Bun.randomUUIDv7();
  const fill: FillRecord | undefined =
    p.fillPriceMicros === undefined
      ? undefined
      : (() => {
          const gross = grossAmountMinor(terms.quantity, p.fillPriceMicros);
          return {
            fillId: Bun.randomUUIDv7(),
            orderId,
            quantity: terms.quantity,
            priceMicros: p.fillPriceMicros,
            grossAmountMinor: gross,
            feeMinor: feeMinor(gross, p.feeBps),
            filledAt: now,
          };
        })();
  // A resting buy holds its cost at the limit (a fill is never dearer); a resting sell offers its shares.
  const heldMinor = fill === undefined && isBuy ? buyHoldMinor(terms.quantity, terms.limitPriceMicros, p.feeBps) : 0n;
  const order: OrderRecord = {
    orderId,
    accountId: terms.accountId,
    symbol: terms.symbol,
    side: terms.side,
    type: terms.type,
    quantity: terms.quantity,
    limitPriceMicros: terms.limitPriceMicros,
    currency: p.currency,
    status: fill === undefined ? OrderStatus.OPEN : OrderStatus.FILLED,
    filledQuantity: fill === undefined ? 0n : terms.quantity,
    heldMinor,
    restsAfter: p.restsAfter,
    idempotencyKey: terms.idempotencyKey,
    placedAt: now,
    updatedAt: now,
    fills: fill === undefined ? [] : [fill],
  };
  return {
    placement: p,
    order,
    fill,
    isBuy,
    requiredMinor: isBuy ? buyHoldMinor(terms.quantity, price, p.feeBps) : 0n,
    cashDeltaMinor: fill === undefined ? 0n : cashEffectMinor(isBuy ? "buy" : "sell", fill.grossAmountMinor, fill.feeMinor),
    filledDelta: fill === undefined ? 0n : isBuy ? terms.quantity : -terms.quantity,
    offeredDelta: fill === undefined && !isBuy ? terms.quantity : 0n,
  };
}

/**
 * Placements of distinct accounts as one statement, so one round trip and one transaction for
 * all of them: for each, in account order, `place_check` (migration 0002) takes the account's
 * lock and decides under it; the orders, fills, ledger and holding changes and their outbox rows
 * follow in the same statement, each written only for a placement it decided to place. The
 * statement answers with each decision. Its text and plan are the same for any number of
 * placements (they go as one JSON document), so one prepared statement serves every batch.
 *
 * One placement per account: the ledger and holding rows are changed once per statement (the
 * batching in front of it sees to that, and this refuses otherwise).
 */
async function placeAll(sql: postgres.Sql, outbox: OutboxShape, placements: ReadonlyArray<Placement>): Promise<PlaceOutcome[]> {
  if (new Set(placements.map((p) => p.terms.accountId)).size !== placements.length) {
    throw new RangeError("placeAll: at most one placement per account in a statement");
  }
  const planned = placements.map(planOrder);
  const decided = (key: postgres.PendingQuery<postgres.Row[]>) => sql`exists (select from checked where n = ${key} and outcome = 'placed')`;
  const filledOnes = planned.flatMap((o, i) => (o.fill === undefined ? [] : [{ o, n: i + 1, fill: o.fill }]));
  const placedEvents = outbox.insert(
    sql,
    orderPlaced,
    planned.map((o) => orderPlacedOf(o.order)),
    planned.map((o) => o.placement.meta),
    { whenEach: { keys: planned.map((_, i) => i + 1), holds: decided } },
  );
  const filledEvents = outbox.insert(
    sql,
    orderFilled,
    filledOnes.map(({ o, fill }) => orderFilledOf(o.order, fill, 0n)),
    filledOnes.map(({ o }) => o.placement.meta),
    { whenEach: { keys: filledOnes.map(({ n }) => n), holds: decided } },
  );
  // Every write reads the decisions, so none runs before its check has the lock, and none for a
  // placement it refused. Foreign keys are checked at the statement's end.
  const decisions = await sql<Array<{ n: string; outcome: string; detail: string }>>`
    with input as (
      select * from jsonb_to_recordset(${sql.json(planned.map(inputRow))}::jsonb) as i(
        n int, order_id uuid, account_id text, symbol text, side smallint, type smallint, quantity bigint,
        limit_price_micros bigint, currency text, status smallint, filled_quantity bigint, held_minor bigint,
        rests_after text, idempotency_key text, placed_at timestamptz, is_buy boolean, required_minor bigint,
        has_fill boolean, fill_id uuid, price_micros bigint, gross_amount_minor bigint, fee_minor bigint,
        cash_delta bigint, filled_delta bigint, offered_delta bigint)
    ), checked as materialized (
      -- Accounts locked in id order, as every other batch locks them: two batches never deadlock.
      select i.*, c.outcome, c.detail
      from (select * from input order by account_id offset 0) as i
      cross join lateral place_check(i.account_id, i.idempotency_key, i.symbol, i.is_buy, i.required_minor, i.quantity) as c
    ), placed as (
      insert into orders (order_id, account_id, symbol, side, type, quantity, limit_price_micros, currency, status,
                          filled_quantity, held_minor, rests_after, idempotency_key, placed_at, updated_at)
      select order_id, account_id, symbol, side, type, quantity, limit_price_micros, currency, status,
             filled_quantity, held_minor, rests_after, idempotency_key, placed_at, placed_at
      from checked where outcome = 'placed'
    ), filled as (
      insert into fills (fill_id, order_id, account_id, symbol, side, quantity, price_micros, gross_amount_minor, fee_minor, filled_at)
      select fill_id, order_id, account_id, symbol, side, quantity, price_micros, gross_amount_minor, fee_minor, placed_at
      from checked where outcome = 'placed' and has_fill
    ), ledger as (
      update accounts as a set cash_minor = a.cash_minor + c.cash_delta, held_minor = a.held_minor + c.held_minor
      from checked as c
      where c.outcome = 'placed' and a.account_id = c.account_id and (c.cash_delta <> 0 or c.held_minor <> 0)
    ), holding as (
      -- Placing never lowers what is offered, so the row to insert never breaks its check.
      insert into holdings (account_id, symbol, filled_quantity, offered_quantity)
      select account_id, symbol, filled_delta, offered_delta
      from checked
      where outcome = 'placed' and (filled_delta <> 0 or offered_delta <> 0)
      on conflict (account_id, symbol) do update
        set filled_quantity = holdings.filled_quantity + excluded.filled_quantity,
            offered_quantity = holdings.offered_quantity + excluded.offered_quantity
    ), placed_events as (${placedEvents.statement}), filled_events as (${filledEvents.statement})
    select n::text, outcome, detail from checked`;
  const byPosition = new Map(decisions.map((d) => [Number(d.n), d]));
  return Promise.all(planned.map((o, i) => outcomeOf(sql, o, byPosition.get(i + 1))));
}

/**
 * A placement as a row of the statement's JSON input (64-bit integers as strings). One JSON
 * document, not arrays: the planner does not look at its row count, so the prepared statement
 * keeps one generic plan for every batch size (with arrays it was planned again on every run).
 */
function inputRow(o: PlannedOrder, i: number) {
  const { order, fill } = o;
  return {
    n: i + 1,
    order_id: order.orderId,
    account_id: order.accountId,
    symbol: order.symbol,
    side: order.side,
    type: order.type,
    quantity: int8(order.quantity),
    limit_price_micros: int8(order.limitPriceMicros),
    currency: order.currency,
    status: order.status,
    filled_quantity: int8(order.filledQuantity),
    held_minor: int8(order.heldMinor),
    rests_after: order.restsAfter,
    idempotency_key: order.idempotencyKey,
    placed_at: order.placedAt.toISOString(),
    is_buy: o.isBuy,
    required_minor: int8(o.requiredMinor),
    has_fill: fill !== undefined,
    fill_id: fill?.fillId ?? order.orderId,
    price_micros: int8(fill?.priceMicros ?? 0n),
    gross_amount_minor: int8(fill?.grossAmountMinor ?? 0n),
    fee_minor: int8(fill?.feeMinor ?? 0n),
    cash_delta: int8(o.cashDeltaMinor),
    filled_delta: int8(o.filledDelta),
    offered_delta: int8(o.offeredDelta),
  };
}

/** What a placement's decision means for its caller. */
async function outcomeOf(sql: postgres.Sql, o: PlannedOrder, decision: { outcome: string; detail: string } | undefined): Promise<PlaceOutcome> {
  const { terms } = o.placement;
  switch (decision?.outcome) {
    case "placed":
      return { _tag: "Placed", order: o.order };
    case "existing": {
      // The key was used (a retry): the same terms get that order, other terms are refused.
      const [row] = await sql<OrderRow[]>`select ${sql.unsafe(orderColumns)} from orders where order_id = ${decision.detail}`;
      if (row === undefined) throw new Error(`order ${decision.detail} of key ${terms.idempotencyKey} not found`);
      const earlier = await readOrder(sql, row);
      return sameTerms(earlier, terms) ? { _tag: "Existing", order: earlier } : { _tag: "KeyReused", orderId: earlier.orderId };
    }
    case "insufficient_funds":
      return { _tag: "InsufficientFunds", requiredMinor: o.requiredMinor, availableMinor: BigInt(decision.detail) };
    case "insufficient_position":
      return { _tag: "InsufficientPosition", requested: terms.quantity, available: BigInt(decision.detail) };
    default:
      throw new Error(`place_check answered ${JSON.stringify(decision)}`);
  }
}

async function cancel(
  tx: postgres.TransactionSql,
  outbox: OutboxShape,
  accountId: string,
  orderId: string,
  reason: string,
  meta: EventMeta,
): Promise<CancelOutcome> {
  // Account first, then the order: the same lock order as placing and filling.
  await tx`select 1 from accounts where account_id = ${accountId} for update`;
  const [row] = await tx<OrderRow[]>`select ${tx.unsafe(orderColumns)} from orders where order_id = ${orderId} for update`;
  if (row === undefined) return { _tag: "Unknown" };
  const order = await readOrder(tx, row);
  if (order.status !== OrderStatus.OPEN) return { _tag: "NotCancellable", status: order.status };
  const now = new Date();
  const open = order.quantity - order.filledQuantity;
  await Promise.all([
    tx`update orders set status = ${OrderStatus.CANCELLED}, held_minor = 0, updated_at = ${now} where order_id = ${orderId}`,
    order.side === OrderSide.BUY
      ? tx`update accounts set held_minor = held_minor - ${int8(order.heldMinor)}::bigint where account_id = ${accountId}`
      : moveHolding(tx, accountId, order.symbol, 0n, -open),
    outbox.write(tx, orderCancelled, orderCancelledOf(order, reason, now), meta),
  ]);
  return { _tag: "Cancelled", order: { ...order, status: OrderStatus.CANCELLED, heldMinor: 0n, updatedAt: now } };
}
