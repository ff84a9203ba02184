/**
 * ExecutePlan's work: each trade of the plan becomes an order at trading, in
 * the plan's order (sells first, so their proceeds are buying power for the
 * buys), with the trade's derived idempotency key. A trade already recorded as
 * an order is read back, not placed again; one placed before a crash but not
 * recorded is found by its key. The first refusal stops the execution: the
 * orders before it stand, and executing again resumes after them.
 */
import { Effect } from "effect";
import type { Unavailable } from "@meridian/kit";
import { ServiceClient } from "@meridian/kit/client";
import type { EffectClient } from "@meridian/sdk";
import { PlanStatus } from "@meridian/sdk/planning";
import { OrderType, Trading, type Order } from "@meridian/sdk/trading";
import { idempotencyKey, isRefusal, refusalReason } from "./domain/execution.js";
import { downstreamFailure } from "./downstream.js";
import { PlanRejected } from "./errors.js";
import { PlanStore, type PlanRecord, type StoredTrade } from "./store.js";

export type TradingClient = EffectClient<typeof Trading>;

/** What an execution returns: the plan as now stored, and one order per trade, in the plan's order. */
export interface Execution {
  readonly plan: PlanRecord;
  readonly orders: ReadonlyArray<Order>;
}

/** Places (or finds) the order of every trade of `plan`, then marks it executed. */
export function executePlan(plan: PlanRecord): Effect.Effect<Execution, PlanRejected | Unavailable, PlanStore | TradingClient> {
  return Effect.gen(function* () {
    const store = yield* Effect.service(PlanStore);
    const orders: Order[] = [];
    const trades: StoredTrade[] = [];
    const fillsOf = () => BigInt(orders.reduce((n, o) => n + o.fills.length, 0));
    for (const [index, trade] of plan.trades.entries()) {
      // Stopped half-way, the orders before still made fills the next proposal must wait for.
      const order = yield* orderOf(plan, index, trade).pipe(
        Effect.tapError(() => (orders.length === 0 ? Effect.void : store.recordFills(plan.planId, fillsOf()))),
      );
      if (trade.orderId !== order.orderId) yield* store.recordOrder(plan.planId, index, order.orderId);
      orders.push(order);
      trades.push({ ...trade, orderId: trade.orderId ?? order.orderId });
    }
    const fillCount = fillsOf();
    const executedAt = yield* store.markExecuted(plan.planId, fillCount);
    const recorded = plan.fillCount !== undefined && plan.fillCount > fillCount ? plan.fillCount : fillCount;
    return { plan: { ...plan, trades, status: PlanStatus.EXECUTED, executedAt, fillCount: recorded }, orders };
  });
}

/** The order of one trade: the recorded one, or the one its idempotency key places (or already placed). */
function orderOf(plan: PlanRecord, index: number, trade: StoredTrade): Effect.Effect<Order, PlanRejected | Unavailable, TradingClient> {
  return Effect.gen(function* () {
    const trading = yield* Effect.service(ServiceClient(Trading));
    if (trade.orderId !== undefined) {
      const recorded = yield* trading.getOrder({ orderId: trade.orderId }).pipe(
        Effect.map(({ order }) => order),
        // Not found where it was recorded: the key still finds (or places) it.
        Effect.catchTag("UnknownOrder", () => Effect.succeed(undefined)),
        Effect.catch((e) => downstreamFailure("trading", "GetOrder", e)),
      );
      if (recorded !== undefined) return recorded;
    }
    const placed = yield* trading
      .placeOrder({
        accountId: plan.accountId,
        symbol: trade.symbol,
        side: trade.side,
        quantity: trade.quantity,
        type: OrderType.MARKET,
        idempotencyKey: idempotencyKey(plan.planId, index),
      })
      .pipe(
        Effect.catch((e): Effect.Effect<never, PlanRejected | Unavailable> =>
          isRefusal(e)
            ? Effect.logWarning("trading refused a planned order").pipe(
                Effect.annotateLogs({ plan_id: plan.planId, trade_index: index, symbol: trade.symbol, reason: e._tag }),
                Effect.andThen(Effect.fail(new PlanRejected({ planId: plan.planId, symbol: trade.symbol, reason: refusalReason(e) }))),
              )
            : downstreamFailure("trading", "PlaceOrder", e),
        ),
      );
    if (placed.order === undefined) return yield* Effect.die(new Error("PlaceOrder answered without an order"));
    return placed.order;
  });
}
