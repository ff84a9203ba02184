/**
 * Orders and fills as the store keeps them (enums as the proto numbers, amounts as bigint).
 */
import type { OrderSide, OrderStatus, OrderType } from "@meridian/sdk/trading";

/** One execution of an order. */
export interface FillRecord {
  readonly fillId: string;
  readonly orderId: string;
  readonly quantity: bigint;
  readonly priceMicros: bigint;
  readonly grossAmountMinor: bigint;
  readonly feeMinor: bigint;
  readonly filledAt: Date;
}

/** An order with its fills. */
export interface OrderRecord {
  readonly orderId: string;
  readonly accountId: string;
  readonly symbol: string;
  readonly side: OrderSide;
  readonly type: OrderType;
  readonly quantity: bigint;
  readonly limitPriceMicros: bigint;
  readonly currency: string;
  readonly status: OrderStatus;
  readonly filledQuantity: bigint;
  /** What this open buy holds of the account's cash, minor units (0 otherwise). */
  readonly heldMinor: bigint;
  /** Bars dated after this day can fill it ('' when market had no quote when it was placed). */
  readonly restsAfter: string;
  readonly idempotencyKey: string;
  readonly placedAt: Date;
  readonly updatedAt: Date;
  readonly fills: ReadonlyArray<FillRecord>;
}

/** What trading needs to know of an account: fixed once it is opened. */
export interface AccountFacts {
  readonly currency: string;
  readonly initialCashMinor: bigint;
}
