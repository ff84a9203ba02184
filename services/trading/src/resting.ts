/**
 * Resting limit orders meet new bars: every open limit order of the symbol
 * that a bar dated after its placement crosses fills, at the crossing rule's
 * price, with its OrderFilled event, in the caller's transaction.
 */
import type postgres from "postgres";
import type { EventMeta, OutboxShape } from "@meridian/kit/events";
import { OrderSide, OrderStatus } from "@meridian/sdk/trading";
import { limitFillPriceMicros, type BarPrices } from "./domain/execution.js";
import { cashEffectMinor, feeMinor, grossAmountMinor } from "./domain/money.js";
import { orderFilled, orderFilledOf } from "./events.js";
import type { FillRecord } from "./records.js";
import { int8, orderColumns, toOrder, type OrderRow } from "./rows.js";
import { insertFill, moveHolding } from "./ledger.js";

/** One day's bar of the symbol. */
export interface DayBar extends BarPrices {
  /** "YYYY-MM-DD" */
  readonly date: string;
}

/**
 * Fills what the bars cross, each order at the first bar (oldest first) dated after the day it
 * was placed on that crosses its limit. Accounts are locked in id order, each before its
 * orders, as PlaceOrder and CancelOrder lock them. Returns the number of orders filled.
 */
export async function fillRestingOrders(
  tx: postgres.TransactionSql,
  outbox: OutboxShape,
  symbol: string,
  bars: ReadonlyArray<DayBar>,
  feeBps: number,
  meta: EventMeta = {},
): Promise<number> {
  if (bars.length === 0) return 0;
  const days = [...bars].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
  const lastDate = days[days.length - 1]!.date;
  const candidates = await tx<{ order_id: string; account_id: string }[]>`
    select order_id, account_id from orders
    where symbol = ${symbol} and status = ${OrderStatus.OPEN} and rests_after < ${lastDate}
    order by account_id, order_id`;
  let filled = 0;
  let locked: string | undefined;
  for (const candidate of candidates) {
    if (candidate.account_id !== locked) {
      await tx`select 1 from accounts where account_id = ${candidate.account_id} for update`;
      locked = candidate.account_id;
    }
    const [row] = await tx<OrderRow[]>`
      select ${tx.unsafe(orderColumns)} from orders where order_id = ${candidate.order_id} and status = ${OrderStatus.OPEN} for update`;
    if (row === undefined) continue; // cancelled meanwhile
    const order = toOrder(row, []);
    const crossing = days
      .filter((bar) => bar.date > order.restsAfter)
      .map((bar) => limitFillPriceMicros(bar, order.side, order.limitPriceMicros))
      .find((price) => price !== undefined);
    if (crossing === undefined) continue;

    const now = new Date();
    const quantity = order.quantity - order.filledQuantity;
    const gross = grossAmountMinor(quantity, crossing);
    const fill: FillRecord = {
      fillId: Bun.randomUUIDv7(),
      orderId: order.orderId,
      quantity,
      priceMicros: crossing,
      grossAmountMinor: gross,
      feeMinor: feeMinor(gross, feeBps),
      filledAt: now,
    };
    const isBuy = order.side === OrderSide.BUY;
    const cashDelta = cashEffectMinor(isBuy ? "buy" : "sell", fill.grossAmountMinor, fill.feeMinor);
    await Promise.all([
      tx`
        update orders set status = ${OrderStatus.FILLED}, filled_quantity = quantity, held_minor = 0, updated_at = ${now}
        where order_id = ${order.orderId}`,
      insertFill(tx, order, fill),
      // The fill's cost replaces the hold (never larger: a buy fills at or under its limit).
      tx`
        update accounts set cash_minor = cash_minor + ${int8(cashDelta)}::bigint, held_minor = held_minor - ${int8(order.heldMinor)}::bigint
        where account_id = ${order.accountId}`,
      moveHolding(tx, order.accountId, order.symbol, isBuy ? quantity : -quantity, isBuy ? 0n : -quantity),
      outbox.write(tx, orderFilled, orderFilledOf(order, fill, 0n), meta),
    ]);
    filled += 1;
  }
  return filled;
}
