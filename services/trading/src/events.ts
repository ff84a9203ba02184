/**
 * The events trading produces and consumes, and how an order change becomes
 * its event payload.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { defineEvent } from "@meridian/kit/events";
import { BarsIngestedSchema } from "@meridian/sdk/market";
import {
  OrderCancelledSchema,
  OrderFilledSchema,
  OrderPlacedSchema,
  type OrderCancelled,
  type OrderFilled,
  type OrderPlaced,
} from "@meridian/sdk/trading";
import type { FillRecord, OrderRecord } from "./records.js";

/** An order was accepted (written through the outbox with the order). */
export const orderPlaced = defineEvent("meridian.trading.order.placed", OrderPlacedSchema);
/** An order executed (written through the outbox with the fill): portfolio moves cash and positions by it. */
export const orderFilled = defineEvent("meridian.trading.order.filled", OrderFilledSchema);
/** An open order was cancelled (written through the outbox with the cancellation). */
export const orderCancelled = defineEvent("meridian.trading.order.cancelled", OrderCancelledSchema);
/** Market stored new bars for a symbol: resting limit orders of that symbol may now fill. */
export const barsIngested = defineEvent("meridian.market.bars.ingested", BarsIngestedSchema);

/** The OrderPlaced payload of an order as it was accepted. */
export function orderPlacedOf(order: OrderRecord): OrderPlaced {
  return create(OrderPlacedSchema, {
    orderId: order.orderId,
    accountId: order.accountId,
    symbol: order.symbol,
    side: order.side,
    type: order.type,
    quantity: order.quantity,
    limitPriceMicros: order.limitPriceMicros,
    currency: order.currency,
    idempotencyKey: order.idempotencyKey,
    placedAt: timestampFromDate(order.placedAt),
  });
}

/** The OrderFilled payload of one fill of an order; `remaining` is what is still open after it. */
export function orderFilledOf(order: OrderRecord, fill: FillRecord, remaining: bigint): OrderFilled {
  return create(OrderFilledSchema, {
    orderId: order.orderId,
    accountId: order.accountId,
    symbol: order.symbol,
    side: order.side,
    fillId: fill.fillId,
    quantity: fill.quantity,
    priceMicros: fill.priceMicros,
    currency: order.currency,
    grossAmountMinor: fill.grossAmountMinor,
    feeMinor: fill.feeMinor,
    remainingQuantity: remaining,
    filledAt: timestampFromDate(fill.filledAt),
  });
}

/** The OrderCancelled payload of an order cancelled at `at`. */
export function orderCancelledOf(order: OrderRecord, reason: string, at: Date): OrderCancelled {
  return create(OrderCancelledSchema, {
    orderId: order.orderId,
    accountId: order.accountId,
    symbol: order.symbol,
    cancelledQuantity: order.quantity - order.filledQuantity,
    reason,
    cancelledAt: timestampFromDate(at),
  });
}
