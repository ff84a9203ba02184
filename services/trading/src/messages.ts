/**
 * Store records → proto messages.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { FillSchema, OrderSchema, type Order } from "@meridian/sdk/trading";
import type { OrderRecord } from "./records.js";

/** The Order message of an order with its fills. */
export function toOrder(order: OrderRecord): Order {
  return create(OrderSchema, {
    orderId: order.orderId,
    accountId: order.accountId,
    symbol: order.symbol,
    side: order.side,
    type: order.type,
    quantity: order.quantity,
    limitPriceMicros: order.limitPriceMicros,
    currency: order.currency,
    status: order.status,
    filledQuantity: order.filledQuantity,
    fills: order.fills.map((fill) =>
      create(FillSchema, {
        fillId: fill.fillId,
        quantity: fill.quantity,
        priceMicros: fill.priceMicros,
        grossAmountMinor: fill.grossAmountMinor,
        feeMinor: fill.feeMinor,
        filledAt: timestampFromDate(fill.filledAt),
      }),
    ),
    idempotencyKey: order.idempotencyKey,
    placedAt: timestampFromDate(order.placedAt),
    updatedAt: timestampFromDate(order.updatedAt),
  });
}
