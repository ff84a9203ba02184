/**
 * Planning against the real services, in this process, on PostgreSQL: a plan
 * is proposed from real scores, regime, quotes and account, executed through
 * trading, and executing it again (or after a crash half-way) places nothing twice.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Planning, PlanStatus } from "@meridian/sdk/planning";
import { Portfolio, RiskProfile } from "@meridian/sdk/portfolio";
import { OrderSide, OrderStatus, OrderType, Trading } from "@meridian/sdk/trading";
import { Universe } from "@meridian/sdk/universe";
import postgres from "postgres";
import { failureOf, run, startPlatform, type Platform } from "./platform.js";

let platform: Platform;
const catchUpMs = 1_000;
const planning = () => platform.clientOf(Planning);
const portfolio = () => platform.clientOf(Portfolio);
const trading = () => platform.clientOf(Trading);

beforeAll(async () => {
  platform = await startPlatform({ portfolioCatchUpMs: catchUpMs });
}, 120_000);

afterAll(async () => {
  await platform?.dispose();
}, 30_000);

async function openAccount(cashMinor: bigint, riskProfile = RiskProfile.BALANCED, currency = "USD") {
  const { account } = await run(
    portfolio().openAccount({ owner: "planning-test", initialCashMinor: cashMinor, currency, riskProfile, idempotencyKey: crypto.randomUUID() }),
  );
  return account!.accountId;
}

async function ordersOf(accountId: string) {
  const { orders } = await run(trading().listOrders({ accountId, page: { pageSize: 500 } }));
  return orders;
}

describe("planning with the real services", () => {
  test("a proposal buys only securities of the account's currency, within cash minus the floor", async () => {
    const accountId = await openAccount(10_000_000n); // 100,000.00 USD
    const { plan } = await run(planning().proposeRebalance({ accountId }));
    expect(plan!.status).toBe(PlanStatus.PROPOSED);
    expect(plan!.accountId).toBe(accountId);
    expect(plan!.totalValueMinor).toBe(10_000_000n);
    expect(plan!.trades.length).toBeGreaterThan(0);
    expect(plan!.trades.every((t) => t.side === OrderSide.BUY)).toBe(true);
    const { securities } = await run(platform.clientOf(Universe).listSecurities({ page: { pageSize: 500 } }));
    const currencyOf = new Map(securities.map((s) => [s.symbol, s.currency]));
    expect(plan!.trades.every((t) => currencyOf.get(t.symbol) === "USD")).toBe(true);
    expect(plan!.targets.every((t) => currencyOf.get(t.symbol) === "USD")).toBe(true);
    const spent = plan!.trades.reduce((sum, t) => sum + t.estimatedAmountMinor, 0n);
    const floor = BigInt(Math.round(plan!.cashFloor * 10_000)) * 10_000_000n / 10_000n;
    expect(spent).toBeLessThanOrEqual(10_000_000n - floor);
    // Stored as proposed.
    const { plan: read } = await run(planning().getPlan({ planId: plan!.planId }));
    expect(read).toEqual(plan);
  }, 60_000);

  test("executing a plan twice places one order per planned trade, and returns the same orders", async () => {
    const accountId = await openAccount(5_000_000n);
    const { plan } = await run(planning().proposeRebalance({ accountId }));
    const first = await run(planning().executePlan({ planId: plan!.planId }));
    expect(first.plan!.status).toBe(PlanStatus.EXECUTED);
    expect(first.plan!.executedAt).toBeDefined();
    expect(first.orders.map((o) => [o.symbol, o.side, o.quantity])).toEqual(plan!.trades.map((t) => [t.symbol, t.side, t.quantity]));
    expect(first.orders.map((o) => o.idempotencyKey)).toEqual(plan!.trades.map((_, i) => `plan:${plan!.planId}:${i}`));
    expect(first.orders.every((o) => o.status === OrderStatus.FILLED)).toBe(true);

    const second = await run(planning().executePlan({ planId: plan!.planId }));
    expect(second.orders.map((o) => o.orderId)).toEqual(first.orders.map((o) => o.orderId));
    expect(second.plan!.executedAt).toEqual(first.plan!.executedAt);
    const held = await ordersOf(accountId);
    expect(held.length).toBe(plan!.trades.length);
    expect(new Set(held.map((o) => o.orderId))).toEqual(new Set(first.orders.map((o) => o.orderId)));
  }, 60_000);

  test("after a crash half-way (an order placed, not recorded), executing resumes without a second order", async () => {
    const accountId = await openAccount(5_000_000n);
    const { plan } = await run(planning().proposeRebalance({ accountId }));
    const trade = plan!.trades[0]!;
    // What planning did before it crashed: trading accepted trade 0 under its derived key.
    const { order: early } = await run(
      trading().placeOrder({
        accountId,
        symbol: trade.symbol,
        side: trade.side,
        quantity: trade.quantity,
        type: OrderType.MARKET,
        idempotencyKey: `plan:${plan!.planId}:0`,
      }),
    );
    const { orders } = await run(planning().executePlan({ planId: plan!.planId }));
    expect(orders[0]!.orderId).toBe(early!.orderId);
    expect((await ordersOf(accountId)).length).toBe(plan!.trades.length);
  }, 60_000);

  test("a refused trade rejects the plan naming symbol and reason; the orders before it stand; re-executing resumes", async () => {
    const accountId = await openAccount(5_000_000n);
    const { plan } = await run(planning().proposeRebalance({ accountId }));
    expect(plan!.trades.length).toBeGreaterThanOrEqual(3);
    // Spend the cash the plan's third buy counts on, elsewhere: a buy of the first trade's symbol.
    const first = plan!.trades[0]!;
    const cash = 5_000_000n - plan!.trades.slice(0, 2).reduce((s, t) => s + t.estimatedAmountMinor, 0n);
    const extraQuantity = (cash * 10_000n) / first.referencePriceMicros - 1n;
    const { order: extra } = await run(
      trading().placeOrder({
        accountId,
        symbol: first.symbol,
        side: OrderSide.BUY,
        quantity: extraQuantity - 5n, // leaves less than the third trade costs, with the 5 bps slippage
        type: OrderType.MARKET,
        idempotencyKey: crypto.randomUUID(),
      }),
    );
    expect(extra!.status).toBe(OrderStatus.FILLED);
    const error = await failureOf(planning().executePlan({ planId: plan!.planId }));
    expect(error._tag).toBe("PlanRejected");
    if (error._tag !== "PlanRejected") return;
    expect(error.planId).toBe(plan!.planId);
    expect(error.symbol).toBe(plan!.trades[2]!.symbol);
    expect(error.reason).toBe("InsufficientFunds");
    // The first two planned orders stand; the plan is still only proposed.
    const placed = (await ordersOf(accountId)).filter((o) => o.idempotencyKey.startsWith(`plan:${plan!.planId}:`));
    expect(placed.map((o) => o.idempotencyKey).sort()).toEqual([`plan:${plan!.planId}:0`, `plan:${plan!.planId}:1`]);
    expect((await run(planning().getPlan({ planId: plan!.planId }))).plan!.status).toBe(PlanStatus.PROPOSED);

    // Sell the extra shares back: the cash returns, and executing again resumes after trade 1.
    await run(
      trading().placeOrder({
        accountId,
        symbol: first.symbol,
        side: OrderSide.SELL,
        quantity: extra!.quantity,
        type: OrderType.MARKET,
        idempotencyKey: crypto.randomUUID(),
      }),
    );
    const resumed = await run(planning().executePlan({ planId: plan!.planId }));
    expect(resumed.plan!.status).toBe(PlanStatus.EXECUTED);
    expect(resumed.orders.slice(0, 2).map((o) => o.idempotencyKey)).toEqual(placed.map((o) => o.idempotencyKey).sort());
    const all = (await ordersOf(accountId)).filter((o) => o.idempotencyKey.startsWith(`plan:${plan!.planId}:`));
    expect(all.length).toBe(plan!.trades.length);
  }, 60_000);

  test("a proposal right after an execution waits for the portfolio to apply its fills, then trades nothing (all inside the band)", async () => {
    const accountId = await openAccount(5_000_000n);
    const { plan } = await run(planning().proposeRebalance({ accountId }));
    const { orders } = await run(planning().executePlan({ planId: plan!.planId }));
    // No waiting here: planning itself waits until the portfolio has applied the plan's fills.
    const { plan: next } = await run(planning().proposeRebalance({ accountId }));
    const { portfolio: state } = await run(portfolio().getPortfolio({ accountId }));
    expect(state!.fillsApplied).toBe(BigInt(orders.reduce((n, o) => n + o.fills.length, 0)));
    expect(next!.planId).not.toBe(plan!.planId);
    expect(next!.trades).toEqual([]);
    expect(next!.targets.map((t) => t.symbol)).toEqual(plan!.targets.map((t) => t.symbol));
    expect(next!.targets.every((t) => Math.abs(t.currentWeight - t.targetWeight) < 0.01)).toBe(true);
    // A plan with nothing to trade executes to no orders.
    const empty = await run(planning().executePlan({ planId: next!.planId }));
    expect(empty.orders).toEqual([]);
    expect(empty.plan!.status).toBe(PlanStatus.EXECUTED);
  }, 60_000);

  test("a portfolio that has not applied the last plan's fills within the bound: unavailable, no plan built on it", async () => {
    const accountId = await openAccount(5_000_000n);
    const { plan } = await run(planning().proposeRebalance({ accountId }));
    await run(planning().executePlan({ planId: plan!.planId }));
    // As if one of the plan's fills had not reached the portfolio yet.
    const sql = postgres(platform.database.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
    try {
      await sql`update planning.plans set fill_count = fill_count + 1 where plan_id = ${plan!.planId}`;
      const started = performance.now();
      const error = await failureOf(planning().proposeRebalance({ accountId }));
      expect(error._tag).toBe("Unavailable");
      expect(performance.now() - started).toBeGreaterThanOrEqual(catchUpMs);
      const [count] = await sql<Array<{ plans: number }>>`select count(*)::int as plans from planning.plans where account_id = ${accountId}`;
      expect(count!.plans).toBe(1);
      await sql`update planning.plans set fill_count = fill_count - 1 where plan_id = ${plan!.planId}`;
    } finally {
      await sql.end();
    }
    const { plan: next } = await run(planning().proposeRebalance({ accountId }));
    expect(next!.trades).toEqual([]);
  }, 60_000);

  test("an account in another currency is planned only in that currency", async () => {
    const accountId = await openAccount(5_000_000n, RiskProfile.AGGRESSIVE, "EUR");
    const { plan } = await run(planning().proposeRebalance({ accountId }));
    const { securities } = await run(platform.clientOf(Universe).listSecurities({ currency: "EUR", page: { pageSize: 500 } }));
    const eur = new Set(securities.map((s) => s.symbol));
    expect(eur.size).toBeGreaterThan(0);
    expect(plan!.targets.every((t) => eur.has(t.symbol))).toBe(true);
    expect(plan!.targets.length).toBeLessThanOrEqual(eur.size);
    await run(planning().executePlan({ planId: plan!.planId }));
  }, 60_000);

  test("unknown account, unknown plan, and malformed ids are typed failures", async () => {
    const account = await failureOf(planning().proposeRebalance({ accountId: "no-such-account" }));
    expect(account._tag).toBe("UnknownAccount");
    if (account._tag === "UnknownAccount") expect(account.accountId).toBe("no-such-account");
    const plan = await failureOf(planning().getPlan({ planId: "no-such-plan" }));
    expect(plan._tag).toBe("UnknownPlan");
    const execute = await failureOf(planning().executePlan({ planId: "no-such-plan" }));
    expect(execute._tag).toBe("UnknownPlan");
    const bad = await failureOf(planning().proposeRebalance({ accountId: "" }));
    expect(bad._tag).toBe("InvalidArgument");
    if (bad._tag === "InvalidArgument") expect(bad.fieldViolations.map((v) => v.field)).toEqual(["account_id"]);
    const spaced = await failureOf(planning().executePlan({ planId: "a plan" }));
    expect(spaced._tag).toBe("InvalidArgument");
    if (spaced._tag === "InvalidArgument") expect(spaced.fieldViolations.map((v) => v.field)).toEqual(["plan_id"]);
  }, 30_000);
});
