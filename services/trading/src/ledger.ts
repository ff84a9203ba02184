/**
 * The two ledger writes every fill makes besides its order: the fill row, and the holding it moves.
 */
import type postgres from "postgres";
import type { FillRecord, OrderRecord } from "./records.js";
import { int8 } from "./rows.js";

/** Inserts a fill of `order`. */
export function insertFill(tx: postgres.TransactionSql, order: OrderRecord, fill: FillRecord): Promise<unknown> {
  return tx`
    insert into fills (fill_id, order_id, account_id, symbol, side, quantity, price_micros, gross_amount_minor, fee_minor, filled_at)
    values (${fill.fillId}, ${order.orderId}, ${order.accountId}, ${order.symbol}, ${order.side}, ${int8(fill.quantity)}::bigint,
            ${int8(fill.priceMicros)}::bigint, ${int8(fill.grossAmountMinor)}::bigint, ${int8(fill.feeMinor)}::bigint, ${fill.filledAt})`;
}

/**
 * Moves an account's holding of a symbol: shares filled and shares offered by open sells. The row
 * is created empty first, then moved, so a decrease never meets the non-negative checks as a
 * row to insert.
 */
export function moveHolding(
  tx: postgres.TransactionSql,
  accountId: string,
  symbol: string,
  filledDelta: bigint,
  offeredDelta: bigint,
): Promise<unknown> {
  return Promise.all([
    tx`insert into holdings (account_id, symbol) values (${accountId}, ${symbol}) on conflict (account_id, symbol) do nothing`,
    tx`
      update holdings
      set filled_quantity = filled_quantity + ${int8(filledDelta)}::bigint,
          offered_quantity = offered_quantity + ${int8(offeredDelta)}::bigint
      where account_id = ${accountId} and symbol = ${symbol}`,
  ]);
}
