/**
 * Reading orders and fills out of their tables.
 */
import type postgres from "postgres";
import type { OrderSide, OrderStatus, OrderType } from "@meridian/sdk/trading";
import type { FillRecord, OrderRecord } from "./records.js";

/** A row of the orders table, as postgres.js returns it (bigint columns as strings). */
export interface OrderRow {
  readonly order_id: string;
  readonly account_id: string;
  readonly symbol: string;
  readonly side: number;
  readonly type: number;
  readonly quantity: string;
  readonly limit_price_micros: string;
  readonly currency: string;
  readonly status: number;
  readonly filled_quantity: string;
  readonly held_minor: string;
  readonly rests_after: string;
  readonly idempotency_key: string;
  readonly placed_at: Date;
  readonly updated_at: Date;
}

/** A row of the fills table. */
export interface FillRow {
  readonly fill_id: string;
  readonly order_id: string;
  readonly quantity: string;
  readonly price_micros: string;
  readonly gross_amount_minor: string;
  readonly fee_minor: string;
  readonly filled_at: Date;
}

/** The columns an OrderRow has, for `select`. */
export const orderColumns =
  "order_id, account_id, symbol, side, type, quantity, limit_price_micros, currency, status, filled_quantity, held_minor, rests_after, idempotency_key, placed_at, updated_at";

/** A bigint as a query parameter (postgres.js's types take it as text; the SQL casts it). */
export function int8(value: bigint): string {
  return value.toString();
}

/** An order row with its fills. */
export function toOrder(row: OrderRow, fills: ReadonlyArray<FillRecord>): OrderRecord {
  return {
    orderId: row.order_id,
    accountId: row.account_id,
    symbol: row.symbol,
    side: row.side as OrderSide,
    type: row.type as OrderType,
    quantity: BigInt(row.quantity),
    limitPriceMicros: BigInt(row.limit_price_micros),
    currency: row.currency,
    status: row.status as OrderStatus,
    filledQuantity: BigInt(row.filled_quantity),
    heldMinor: BigInt(row.held_minor),
    restsAfter: row.rests_after,
    idempotencyKey: row.idempotency_key,
    placedAt: row.placed_at,
    updatedAt: row.updated_at,
    fills,
  };
}

/** A fill row. */
export function toFill(row: FillRow): FillRecord {
  return {
    fillId: row.fill_id,
    orderId: row.order_id,
    quantity: BigInt(row.quantity),
    priceMicros: BigInt(row.price_micros),
    grossAmountMinor: BigInt(row.gross_amount_minor),
    feeMinor: BigInt(row.fee_minor),
    filledAt: row.filled_at,
  };
}

/** The fills of these orders, by order id, oldest first. */
export async function readFills(sql: postgres.Sql | postgres.TransactionSql, orderIds: ReadonlyArray<string>): Promise<Map<string, FillRecord[]>> {
  const byOrder = new Map<string, FillRecord[]>();
  if (orderIds.length === 0) return byOrder;
  const rows = await sql<FillRow[]>`
    select fill_id, order_id, quantity, price_micros, gross_amount_minor, fee_minor, filled_at
    from fills where order_id = any(${orderIds as string[]}::uuid[]) order by filled_at, fill_id`;
  for (const row of rows) {
    const list = byOrder.get(row.order_id) ?? [];
    list.push(toFill(row));
    byOrder.set(row.order_id, list);
  }
  return byOrder;
}

/** One order row with its fills read. */
export async function readOrder(sql: postgres.Sql | postgres.TransactionSql, row: OrderRow): Promise<OrderRecord> {
  // Open orders never filled have no fills to read.
  if (row.filled_quantity === "0") return toOrder(row, []);
  const fills = await readFills(sql, [row.order_id]);
  return toOrder(row, fills.get(row.order_id) ?? []);
}
