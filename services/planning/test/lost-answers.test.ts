/**
 * Executing a plan when trading's answers are lost (trading placed the order,
 * planning never heard): planning's retries and later executions ask again
 * under the same idempotency keys, so trading still holds one order per trade.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Planning, PlanStatus } from "@meridian/sdk/planning";
import { Portfolio, RiskProfile } from "@meridian/sdk/portfolio";
import { Trading } from "@meridian/sdk/trading";
import { failureOf, LostAnswers, run, startPlatform, type Platform } from "./platform.js";

let platform: Platform;
const placeOrder = new LostAnswers("placeOrder");

beforeAll(async () => {
  platform = await startPlatform({ wrapTrading: (b) => placeOrder.binding(b) });
}, 120_000);

afterAll(async () => {
  await platform?.dispose();
}, 30_000);

async function proposal() {
  const { account } = await run(
    platform.clientOf(Portfolio).openAccount({
      owner: "lost-answers",
      initialCashMinor: 5_000_000n,
      riskProfile: RiskProfile.BALANCED,
      idempotencyKey: crypto.randomUUID(),
    }),
  );
  const { plan } = await run(platform.clientOf(Planning).proposeRebalance({ accountId: account!.accountId }));
  expect(plan!.trades.length).toBeGreaterThanOrEqual(4);
  return plan!;
}

async function plannedOrders(accountId: string, planId: string) {
  const { orders } = await run(platform.clientOf(Trading).listOrders({ accountId, page: { pageSize: 500 } }));
  return orders.filter((o) => o.idempotencyKey.startsWith(`plan:${planId}:`));
}

describe("executing a plan when trading's answers are lost", () => {
  test("a lost answer is retried under the same key: the execution succeeds with one order per trade", async () => {
    const plan = await proposal();
    const before = placeOrder.calls;
    placeOrder.lose = (call) => call === before + 2; // the second trade's first answer
    const { orders } = await run(platform.clientOf(Planning).executePlan({ planId: plan.planId }));
    placeOrder.lose = () => false;
    expect(placeOrder.calls - before).toBe(plan.trades.length + 1); // one retry
    expect(orders.length).toBe(plan.trades.length);
    const held = await plannedOrders(plan.accountId, plan.planId);
    expect(held.length).toBe(plan.trades.length);
    expect(held.find((o) => o.idempotencyKey === `plan:${plan.planId}:1`)?.orderId).toBe(orders[1]!.orderId);
  }, 60_000);

  test("trading unreachable half-way: unavailable, the orders placed stand; executing again completes, nothing twice", async () => {
    const plan = await proposal();
    const before = placeOrder.calls;
    // From the third trade on, every answer is lost (each attempt still reaches trading).
    placeOrder.lose = (call) => call >= before + 3;
    const error = await failureOf(platform.clientOf(Planning).executePlan({ planId: plan.planId }));
    placeOrder.lose = () => false;
    expect(error._tag).toBe("Unavailable");
    expect(placeOrder.calls - before).toBeGreaterThan(3); // the third trade was asked for more than once
    const placed = await plannedOrders(plan.accountId, plan.planId);
    expect(placed.map((o) => o.idempotencyKey).sort()).toEqual([0, 1, 2].map((i) => `plan:${plan.planId}:${i}`));
    expect((await run(platform.clientOf(Planning).getPlan({ planId: plan.planId }))).plan!.status).toBe(PlanStatus.PROPOSED);

    const { orders, plan: executed } = await run(platform.clientOf(Planning).executePlan({ planId: plan.planId }));
    expect(executed!.status).toBe(PlanStatus.EXECUTED);
    expect(orders[2]!.orderId).toBe(placed.find((o) => o.idempotencyKey.endsWith(":2"))!.orderId);
    expect((await plannedOrders(plan.accountId, plan.planId)).length).toBe(plan.trades.length);
  }, 60_000);

  test("two executions at once place one order per trade and return the same orders", async () => {
    const plan = await proposal();
    const [a, b] = await Promise.all([
      run(platform.clientOf(Planning).executePlan({ planId: plan.planId })),
      run(platform.clientOf(Planning).executePlan({ planId: plan.planId })),
    ]);
    expect(a.orders.map((o) => o.orderId)).toEqual(b.orders.map((o) => o.orderId));
    expect((await plannedOrders(plan.accountId, plan.planId)).length).toBe(plan.trades.length);
  }, 60_000);
});
