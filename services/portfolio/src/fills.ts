/**
 * Applying OrderFilled events: each fill moves its account's cash, position and realised P&L
 * once, in the transaction of the idempotent consumer (which records the event ids), with a
 * ledger row keyed by fill_id (so the same fill in another envelope is not applied twice either)
 * and an AccountChanged event in the outbox for the live views.
 *
 * A batch of fills is applied with a fixed number of statements whatever its size: lock the
 * accounts, read what the batch needs, apply the domain rule to each fill in stream order in
 * memory, write positions, accounts and ledger in bulk, then one AccountChanged per account.
 */
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Data, Effect, Layer } from "effect";
import type postgres from "postgres";
import { Unavailable } from "@meridian/kit";
import { idempotentBatch, layerConsumer, Outbox, type ConsumerOptions, type EventBus, type OutboxShape, type ReceivedEvent } from "@meridian/kit/events";
import { isConnectionFailure, type Sql } from "@meridian/kit/postgres";
import { AccountChangedSchema } from "@meridian/sdk/portfolio";
import { OrderSide, type OrderFilled } from "@meridian/sdk/trading";
import { isAccountIdShape } from "./domain/account.js";
import { applyFill, isRefusal, type Fill, type Holding } from "./domain/holdings.js";
import { UnknownAccount } from "./errors.js";
import { AccountChangedEvent, consumerGroup, OrderFilledEvent } from "./events.js";

/**
 * A fill that cannot be applied as it is (malformed, another currency, more shares sold than
 * held). The consumer redelivers it with backoff (a sell may have overtaken its buy) and
 * dead-letters it after its last delivery, with this reason.
 */
export class FillRefused extends Data.TaggedError("FillRefused")<{ readonly fillId: string; readonly reason: string }> {
  override get message() {
    return `fill ${this.fillId} refused: ${this.reason}`;
  }
}

/**
 * Applies the fills in `tx`, in order; returns how many were new (the others' fill_id was applied
 * before). Any refused fill fails the whole batch (the consumer then retries one at a time).
 */
export function applyFills(
  outbox: OutboxShape,
  events: ReadonlyArray<ReceivedEvent<OrderFilled>>,
  tx: postgres.TransactionSql,
): Effect.Effect<number, FillRefused | UnknownAccount | Unavailable> {
  return Effect.tryPromise({
    try: () => applyInTransaction(outbox, events, tx),
    catch: (cause) => cause,
  }).pipe(
    Effect.catch((cause) =>
      isConnectionFailure(cause) ? Effect.fail(new Unavailable({ reason: "database unavailable" })) : Effect.die(cause),
    ),
    Effect.flatMap((outcome) => (typeof outcome === "number" ? Effect.succeed(outcome) : Effect.fail(outcome))),
  );
}

/**
 * Deliveries before a fill is dead-lettered. A sell can arrive before its buy when an instance
 * dies holding the buy (it is claimed only after `claimIdleMs`) while another reads on: the sell
 * is refused and redelivered with backoff (capped at claimIdleMs / 2), and 12 deliveries span
 * well over claimIdleMs, so the buy is applied first. A fill still refused then is truly wrong.
 */
export const fillMaxDeliveries = 12;

/** The consumer of fills, group "portfolio", for as long as the Layer lives. */
export function layerFillConsumer(
  options: Partial<Omit<ConsumerOptions<OrderFilled, never, never>, "event" | "group" | "handle">> = {},
): Layer.Layer<never, never, Outbox | Sql | EventBus> {
  return Layer.unwrap(
    Effect.map(Effect.service(Outbox), (outbox) =>
      layerConsumer({
        maxDeliveries: fillMaxDeliveries,
        // Big batches: a batch costs a fixed number of statements plus one outbox row per account.
        batchSize: 500,
        ...options,
        event: OrderFilledEvent,
        group: consumerGroup,
        handle: idempotentBatch((events: ReadonlyArray<ReceivedEvent<OrderFilled>>, tx) => Effect.asVoid(applyFills(outbox, events, tx))),
      }),
    ),
  );
}

interface AccountTotals {
  readonly currency: string;
  cashDeltaMinor: bigint;
  realizedPnlDeltaMinor: bigint;
  fills: number;
  lastFillId: string;
  correlationId: string;
}

interface PositionState {
  readonly accountId: string;
  readonly symbol: string;
  holding: Holding | undefined;
  lastPriceMicros: bigint;
  lastPriceDate: string;
}

interface LedgerRow {
  readonly fill: OrderFilled;
  readonly eventId: string;
  readonly filledAt: Date;
  readonly cashDeltaMinor: bigint;
  readonly realizedPnlDeltaMinor: bigint;
}

async function applyInTransaction(
  outbox: OutboxShape,
  events: ReadonlyArray<ReceivedEvent<OrderFilled>>,
  tx: postgres.TransactionSql,
): Promise<number | FillRefused | UnknownAccount> {
  for (const { payload } of events) {
    const refusal = malformed(payload);
    if (refusal !== undefined) return refusal;
  }
  const accountIds = [...new Set(events.map((e) => e.payload.accountId))].sort();

  // The accounts' row locks serialise every fill of an account across consumers (taken in id
  // order, so two batches never deadlock). They are taken by a statement of their own: under READ
  // COMMITTED the next statements' snapshots come after the locks are held, so they see what the
  // previous holder committed. The reads are sent with it (one round trip): the connection runs
  // them after it, in order.
  // The ledger and the positions are read one key at a time (a lateral `limit 1` per key): the
  // plan PostgreSQL settles on, made while the tables were nearly empty and kept as they grow,
  // would otherwise hash the batch's keys and scan the whole table for them, every batch.
  const pairs = [...new Map(events.map((e) => [`${e.payload.accountId}/${e.payload.symbol}`, e.payload])).values()];
  const [locked, seenRows, stored] = await Promise.all([
    tx<Array<{ account_id: string; currency: string }>>`
      select account_id::text, currency from accounts where account_id = any(${accountIds}::uuid[])
      order by account_id for update`,
    tx<Array<{ fill_id: string }>>`
      select f.fill_id from unnest(${events.map((e) => e.payload.fillId)}::text[]) as k(fill_id)
      cross join lateral (select fill_id from fills where fill_id = k.fill_id limit 1) as f`,
    tx<Array<{ account_id: string; symbol: string; quantity: string; cost_basis_minor: string; last_price_micros: string; last_price_date: string }>>`
      select p.account_id::text, p.symbol, p.quantity::text, p.cost_basis_minor::text, p.last_price_micros::text, p.last_price_date::text
      from unnest(${pairs.map((p) => p.accountId)}::uuid[], ${pairs.map((p) => p.symbol)}::text[]) as k(account_id, symbol)
      cross join lateral (select * from positions where account_id = k.account_id and symbol = k.symbol limit 1) as p`,
  ]);
  const accounts = new Map<string, AccountTotals>(
    locked.map((a) => [a.account_id, { currency: a.currency, cashDeltaMinor: 0n, realizedPnlDeltaMinor: 0n, fills: 0, lastFillId: "", correlationId: "" }]),
  );
  const unknown = accountIds.find((id) => !accounts.has(id));
  if (unknown !== undefined) return new UnknownAccount({ accountId: unknown });

  const seen = new Set(seenRows.map((r) => r.fill_id));
  const positions = new Map<string, PositionState>();
  for (const p of pairs) {
    positions.set(`${p.accountId}/${p.symbol}`, { accountId: p.accountId, symbol: p.symbol, holding: undefined, lastPriceMicros: 0n, lastPriceDate: "" });
  }
  for (const row of stored) {
    const state = positions.get(`${row.account_id}/${row.symbol}`)!;
    state.holding = { symbol: row.symbol, quantity: BigInt(row.quantity), costBasisMinor: BigInt(row.cost_basis_minor) };
    state.lastPriceMicros = BigInt(row.last_price_micros);
    state.lastPriceDate = row.last_price_date;
  }

  const ledger: LedgerRow[] = [];
  for (const event of events) {
    const payload = event.payload;
    if (seen.has(payload.fillId)) continue;
    seen.add(payload.fillId);
    const account = accounts.get(payload.accountId)!;
    if (payload.currency !== "" && payload.currency !== account.currency) {
      return new FillRefused({ fillId: payload.fillId, reason: `currency ${payload.currency} is not the account's (${account.currency})` });
    }
    const position = positions.get(`${payload.accountId}/${payload.symbol}`)!;
    const effect = applyFill(position.holding, toFill(payload));
    if (isRefusal(effect)) {
      const reason = effect._tag === "InvalidFill" ? effect.reason : `sells ${effect.sold} ${effect.symbol} but ${effect.held} are held`;
      return new FillRefused({ fillId: payload.fillId, reason });
    }
    const filledAt = payload.filledAt === undefined ? event.time : timestampDate(payload.filledAt);
    position.holding = effect.holding;
    position.lastPriceMicros = payload.priceMicros;
    position.lastPriceDate = filledAt.toISOString().slice(0, 10);
    account.cashDeltaMinor += effect.cashDeltaMinor;
    account.realizedPnlDeltaMinor += effect.realizedPnlDeltaMinor;
    account.fills += 1;
    account.lastFillId = payload.fillId;
    account.correlationId = event.correlationId;
    ledger.push({ fill: payload, eventId: event.id, filledAt, cashDeltaMinor: effect.cashDeltaMinor, realizedPnlDeltaMinor: effect.realizedPnlDeltaMinor });
  }
  if (ledger.length === 0) return 0;

  const touched = [...positions.values()].filter((p) => p.lastPriceDate !== "");
  const closed = touched.filter((p) => p.holding === undefined);
  const open = touched.filter((p) => p.holding !== undefined);
  const changed = [...accounts].filter(([, a]) => a.fills > 0);
  // The writes go out together (one round trip) and run in this order on the connection.
  const writes: Array<Promise<unknown>> = [];
  if (closed.length > 0) {
    writes.push(tx`
      delete from positions p
      using unnest(${closed.map((p) => p.accountId)}::uuid[], ${closed.map((p) => p.symbol)}::text[]) as d(account_id, symbol)
      where p.account_id = d.account_id and p.symbol = d.symbol`);
  }
  if (open.length > 0) {
    writes.push(tx`
      insert into positions (account_id, symbol, quantity, cost_basis_minor, last_price_micros, last_price_date)
      select * from unnest(
        ${open.map((p) => p.accountId)}::uuid[], ${open.map((p) => p.symbol)}::text[],
        ${open.map((p) => p.holding!.quantity.toString())}::bigint[], ${open.map((p) => p.holding!.costBasisMinor.toString())}::bigint[],
        ${open.map((p) => p.lastPriceMicros.toString())}::bigint[], ${open.map((p) => p.lastPriceDate)}::date[])
      on conflict (account_id, symbol) do update
        set quantity = excluded.quantity, cost_basis_minor = excluded.cost_basis_minor,
            last_price_micros = excluded.last_price_micros, last_price_date = excluded.last_price_date`);
  }
  writes.push(tx`
    insert into fills (fill_id, account_id, order_id, symbol, side, quantity, price_micros, gross_amount_minor, fee_minor,
                       cash_delta_minor, realized_pnl_delta_minor, filled_at, event_id)
    select * from unnest(
      ${ledger.map((l) => l.fill.fillId)}::text[], ${ledger.map((l) => l.fill.accountId)}::uuid[],
      ${ledger.map((l) => l.fill.orderId)}::text[], ${ledger.map((l) => l.fill.symbol)}::text[],
      ${ledger.map((l) => l.fill.side)}::smallint[], ${ledger.map((l) => l.fill.quantity.toString())}::bigint[],
      ${ledger.map((l) => l.fill.priceMicros.toString())}::bigint[], ${ledger.map((l) => l.fill.grossAmountMinor.toString())}::bigint[],
      ${ledger.map((l) => l.fill.feeMinor.toString())}::bigint[], ${ledger.map((l) => l.cashDeltaMinor.toString())}::bigint[],
      ${ledger.map((l) => l.realizedPnlDeltaMinor.toString())}::bigint[], ${ledger.map((l) => l.filledAt.toISOString())}::timestamptz[],
      ${ledger.map((l) => l.eventId)}::uuid[])`);
  const updating = tx<Array<{ account_id: string; fills_applied: string }>>`
    update accounts as a
    set cash_minor = a.cash_minor + d.cash, realized_pnl_minor = a.realized_pnl_minor + d.realized, fills_applied = a.fills_applied + d.fills
    from unnest(${changed.map(([id]) => id)}::uuid[], ${changed.map(([, t]) => t.cashDeltaMinor.toString())}::bigint[],
                ${changed.map(([, t]) => t.realizedPnlDeltaMinor.toString())}::bigint[], ${changed.map(([, t]) => t.fills)}::bigint[])
      as d(account_id, cash, realized, fills)
    where a.account_id = d.account_id
    returning a.account_id::text, a.fills_applied::text`;
  const [updated] = await Promise.all([updating, ...writes]);
  // One notification per account and batch: watchers read the whole state anyway.
  const changedAt = timestampFromDate(new Date());
  // One statement for all of them, each carrying the correlation id of its account's last fill.
  const totalsOf = updated.map((row) => accounts.get(row.account_id)!);
  await outbox.insert(
    tx,
    AccountChangedEvent,
    updated.map((row, i) =>
      create(AccountChangedSchema, { accountId: row.account_id, fillsApplied: BigInt(row.fills_applied), fillId: totalsOf[i]!.lastFillId, changedAt }),
    ),
    totalsOf.map((totals) => ({ correlationId: totals.correlationId })),
  ).statement;
  return ledger.length;
}

// What makes a fill unusable whatever the books say.
function malformed(payload: OrderFilled): FillRefused | UnknownAccount | undefined {
  const refuse = (reason: string) => new FillRefused({ fillId: payload.fillId, reason });
  if (payload.fillId === "") return refuse("fill_id is empty");
  if (payload.symbol === "") return refuse("symbol is empty");
  if (payload.side !== OrderSide.BUY && payload.side !== OrderSide.SELL) return refuse(`side ${payload.side} is neither buy nor sell`);
  if (!isAccountIdShape(payload.accountId)) return new UnknownAccount({ accountId: payload.accountId });
  return undefined;
}

function toFill(payload: OrderFilled): Fill {
  return {
    fillId: payload.fillId,
    symbol: payload.symbol,
    side: payload.side === OrderSide.BUY ? "buy" : "sell",
    quantity: payload.quantity,
    priceMicros: payload.priceMicros,
    grossAmountMinor: payload.grossAmountMinor,
    feeMinor: payload.feeMinor,
  };
}
