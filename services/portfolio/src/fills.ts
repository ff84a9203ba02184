/**
 * Applying OrderFilled events: each fill moves its account's cash, position and realised P&L
 * once, in the transaction of the idempotent consumer (which records the event id), with a
 * ledger row keyed by fill_id (so the same fill in another envelope is not applied twice either)
 * and an AccountChanged event in the outbox for the live views.
 */
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Data, Effect, Layer } from "effect";
import type postgres from "postgres";
import { Unavailable } from "@meridian/kit";
import { idempotent, layerConsumer, Outbox, type ConsumerOptions, type EventBus, type OutboxShape, type ReceivedEvent } from "@meridian/kit/events";
import { isConnectionFailure, type Sql } from "@meridian/kit/postgres";
import { AccountChangedSchema } from "@meridian/sdk/portfolio";
import { OrderSide, type OrderFilled } from "@meridian/sdk/trading";
import { isAccountIdShape } from "./domain/account.js";
import { applyFill, isRefusal, type Fill } from "./domain/holdings.js";
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

/** What applying one event did. */
export type FillOutcome = "applied" | "duplicate";

/** Applies one OrderFilled in `tx` (see the module comment). */
export function applyOrderFilled(
  outbox: OutboxShape,
  event: ReceivedEvent<OrderFilled>,
  tx: postgres.TransactionSql,
): Effect.Effect<FillOutcome, FillRefused | UnknownAccount | Unavailable> {
  return Effect.tryPromise({
    try: () => applyInTransaction(outbox, event, tx),
    catch: (cause) => cause,
  }).pipe(
    Effect.catch((cause) =>
      isConnectionFailure(cause) ? Effect.fail(new Unavailable({ reason: "database unavailable" })) : Effect.die(cause),
    ),
    Effect.flatMap((outcome) => (typeof outcome === "string" ? Effect.succeed(outcome) : Effect.fail(outcome))),
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
        ...options,
        event: OrderFilledEvent,
        group: consumerGroup,
        handle: idempotent((event: ReceivedEvent<OrderFilled>, tx) => Effect.asVoid(applyOrderFilled(outbox, event, tx))),
      }),
    ),
  );
}

async function applyInTransaction(
  outbox: OutboxShape,
  event: ReceivedEvent<OrderFilled>,
  tx: postgres.TransactionSql,
): Promise<FillOutcome | FillRefused | UnknownAccount> {
  const payload = event.payload;
  const refuse = (reason: string) => new FillRefused({ fillId: payload.fillId, reason });
  if (payload.fillId === "") return refuse("fill_id is empty");
  if (payload.symbol === "") return refuse("symbol is empty");
  if (payload.side !== OrderSide.BUY && payload.side !== OrderSide.SELL) return refuse(`side ${payload.side} is neither buy nor sell`);
  if (!isAccountIdShape(payload.accountId)) return new UnknownAccount({ accountId: payload.accountId });

  // The account row's lock serialises every fill of one account, across consumers. It is taken
  // by a statement of its own: under READ COMMITTED the next statement's snapshot is taken after
  // the lock is held, so it sees what the previous holder committed (a join in the locking
  // statement would read the position as of before the wait).
  const [account] = await tx<Array<{ currency: string }>>`
    select currency from accounts where account_id = ${payload.accountId}::uuid for update`;
  if (account === undefined) return new UnknownAccount({ accountId: payload.accountId });
  if (payload.currency !== "" && payload.currency !== account.currency) {
    return refuse(`currency ${payload.currency} is not the account's (${account.currency})`);
  }
  const [found] = await tx<Array<{ seen: boolean; quantity: string | null; cost_basis_minor: string | null }>>`
    select exists (select 1 from fills f where f.fill_id = ${payload.fillId}) as seen,
           (select quantity::text from positions where account_id = ${payload.accountId}::uuid and symbol = ${payload.symbol}) as quantity,
           (select cost_basis_minor::text from positions where account_id = ${payload.accountId}::uuid and symbol = ${payload.symbol}) as cost_basis_minor`;
  if (found!.seen) return "duplicate";
  const fill: Fill = {
    fillId: payload.fillId,
    symbol: payload.symbol,
    side: payload.side === OrderSide.BUY ? "buy" : "sell",
    quantity: payload.quantity,
    priceMicros: payload.priceMicros,
    grossAmountMinor: payload.grossAmountMinor,
    feeMinor: payload.feeMinor,
  };
  const effect = applyFill(
    found!.quantity === null || found!.cost_basis_minor === null
      ? undefined
      : { symbol: payload.symbol, quantity: BigInt(found!.quantity), costBasisMinor: BigInt(found!.cost_basis_minor) },
    fill,
  );
  if (isRefusal(effect)) {
    return refuse(effect._tag === "InvalidFill" ? effect.reason : `sells ${effect.sold} ${effect.symbol} but ${effect.held} are held`);
  }

  const filledAt = payload.filledAt === undefined ? event.time : timestampDate(payload.filledAt);
  const day = filledAt.toISOString().slice(0, 10);
  // One write: the position (deleted when sold to zero), the account's cash, realised P&L and
  // fill count, and the ledger row.
  const holding = effect.holding;
  const [updated] = await tx<Array<{ fills_applied: string }>>`
    with position as (
      ${
        holding === undefined
          ? tx`delete from positions where account_id = ${payload.accountId}::uuid and symbol = ${payload.symbol}`
          : tx`
            insert into positions (account_id, symbol, quantity, cost_basis_minor, last_price_micros, last_price_date)
            values (${payload.accountId}::uuid, ${payload.symbol}, ${holding.quantity.toString()}::bigint,
                    ${holding.costBasisMinor.toString()}::bigint, ${payload.priceMicros.toString()}::bigint, ${day}::date)
            on conflict (account_id, symbol) do update
              set quantity = excluded.quantity, cost_basis_minor = excluded.cost_basis_minor,
                  last_price_micros = excluded.last_price_micros, last_price_date = excluded.last_price_date`
      }
    ), ledger as (
      insert into fills (fill_id, account_id, order_id, symbol, side, quantity, price_micros, gross_amount_minor, fee_minor,
                         cash_delta_minor, realized_pnl_delta_minor, filled_at, event_id)
      values (${payload.fillId}, ${payload.accountId}::uuid, ${payload.orderId}, ${payload.symbol}, ${payload.side},
              ${payload.quantity.toString()}::bigint, ${payload.priceMicros.toString()}::bigint,
              ${payload.grossAmountMinor.toString()}::bigint, ${payload.feeMinor.toString()}::bigint,
              ${effect.cashDeltaMinor.toString()}::bigint, ${effect.realizedPnlDeltaMinor.toString()}::bigint,
              ${filledAt}, ${event.id}::uuid)
    )
    update accounts
    set cash_minor = cash_minor + ${effect.cashDeltaMinor.toString()}::bigint,
        realized_pnl_minor = realized_pnl_minor + ${effect.realizedPnlDeltaMinor.toString()}::bigint,
        fills_applied = fills_applied + 1
    where account_id = ${payload.accountId}::uuid
    returning fills_applied::text`;
  await outbox.write(
    tx,
    AccountChangedEvent,
    create(AccountChangedSchema, {
      accountId: payload.accountId,
      fillsApplied: BigInt(updated!.fills_applied),
      fillId: payload.fillId,
      changedAt: timestampFromDate(new Date()),
    }),
    { correlationId: event.correlationId, traceparent: event.traceparent, tracestate: event.tracestate },
  );
  return "applied";
}
