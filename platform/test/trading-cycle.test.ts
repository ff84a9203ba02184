/**
 * The trading platform end to end, distributed: every service its own process, gRPC between
 * them, real PostgreSQL and Redis. An account is opened through the gateway, a trading cycle runs
 * (regime → scores → plan → orders → fills → positions), and the books must agree to the cent.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createMeridianClient } from "@meridian/sdk";
import { Gateway, type RunTradingCycleResponse } from "@meridian/sdk/gateway";
import { Planning } from "@meridian/sdk/planning";
import { RiskProfile, type PortfolioState } from "@meridian/sdk/portfolio";
import { OrderSide, OrderStatus, Trading, type Order } from "@meridian/sdk/trading";
import { devApiKey, startPlatform, type RunningPlatform } from "./platform-processes.js";

let platform: RunningPlatform;

beforeAll(async () => {
  // A restarted portfolio reclaims what its killed predecessor held once idle this long (default 30 s).
  platform = await startPlatform({ env: { PORTFOLIO_CLAIM_IDLE_MS: "5000" } });
}, 600_000);

afterAll(async () => {
  await platform?.stop();
}, 120_000);

const auth = { headers: { authorization: `Bearer ${devApiKey}` } };
// A trading cycle on a cold platform can take a while: a generous deadline, no breaker.
const policy = { timeoutMs: 60_000, breaker: false } as const;
const gateway = () => createMeridianClient(Gateway, { baseUrl: platform.httpUrl("gateway"), policy });
const planning = () => createMeridianClient(Planning, { baseUrl: platform.httpUrl("planning"), policy });
const trading = () => createMeridianClient(Trading, { baseUrl: platform.httpUrl("trading"), policy });

/** What the fills of `orders` must have done to an account that started with `initialCashMinor`. */
function expectedBooks(initialCashMinor: bigint, orders: ReadonlyArray<Order>) {
  let cash = initialCashMinor;
  let fills = 0;
  const shares = new Map<string, bigint>();
  for (const order of orders) {
    for (const fill of order.fills) {
      fills += 1;
      const buy = order.side === OrderSide.BUY;
      cash += buy ? -(fill.grossAmountMinor + fill.feeMinor) : fill.grossAmountMinor - fill.feeMinor;
      shares.set(order.symbol, (shares.get(order.symbol) ?? 0n) + (buy ? fill.quantity : -fill.quantity));
    }
  }
  return { cash, fills, shares: new Map([...shares].filter(([, q]) => q !== 0n)) };
}

/** The account's portfolio once `fills` fills are applied (portfolio applies them from events). */
async function portfolioAfter(accountId: string, fills: number, timeoutMs = 60_000): Promise<PortfolioState> {
  const deadline = Date.now() + timeoutMs;
  let last: PortfolioState | undefined;
  while (Date.now() < deadline) {
    try {
      last = (await gateway().getPortfolio({ accountId }, auth)).portfolio;
      if (last !== undefined && last.fillsApplied >= BigInt(fills)) return last;
    } catch {
      // portfolio may be restarting
    }
    await Bun.sleep(250);
  }
  throw new Error(`portfolio of ${accountId} has ${last?.fillsApplied} of ${fills} fills applied after ${timeoutMs} ms`);
}

function expectBooksMatch(portfolio: PortfolioState, expected: ReturnType<typeof expectedBooks>) {
  expect(portfolio.fillsApplied).toBe(BigInt(expected.fills));
  expect(portfolio.cashMinor).toBe(expected.cash);
  expect(new Map(portfolio.positions.map((p) => [p.symbol, p.quantity]))).toEqual(expected.shares);
}

async function openAccount(key: string, initialCashMinor: bigint) {
  const { account } = await gateway().openAccount(
    { initialCashMinor, currency: "USD", riskProfile: RiskProfile.BALANCED, idempotencyKey: key },
    auth,
  );
  return account!;
}

describe("a trading cycle across separate processes", () => {
  let cycle: RunTradingCycleResponse;
  let accountId: string;
  const initialCashMinor = 1_000_000_00n; // $1,000,000.00

  test("open an account, run a cycle: every order fills, and positions and cash are right to the cent", async () => {
    accountId = (await openAccount(`e2e-${crypto.randomUUID()}`, initialCashMinor)).accountId;
    cycle = await gateway().runTradingCycle({ accountId }, auth);
    expect(cycle.plan?.trades.length).toBeGreaterThan(0);
    expect(cycle.orders.length).toBe(cycle.plan!.trades.length);
    expect(cycle.orders.every((o) => o.status === OrderStatus.FILLED)).toBe(true);
    const expected = expectedBooks(initialCashMinor, cycle.orders);
    expect(expected.cash).toBeLessThan(initialCashMinor);
    expectBooksMatch(await portfolioAfter(accountId, expected.fills), expected);
  }, 180_000);

  test("executing the same plan again places nothing twice", async () => {
    const again = await planning().executePlan({ planId: cycle.plan!.planId });
    expect(again.orders.map((o) => o.orderId)).toEqual(cycle.orders.map((o) => o.orderId));
    const { orders } = await trading().listOrders({ accountId, page: { pageSize: 500 } });
    expect(orders.length).toBe(cycle.orders.length);
    const expected = expectedBooks(initialCashMinor, cycle.orders);
    await Bun.sleep(1000); // a second application, if there were one, would show by now
    expectBooksMatch(await portfolioAfter(accountId, expected.fills), expected);
  }, 120_000);

  test("the portfolio process killed mid-cycle and restarted applies every fill exactly once", async () => {
    const account = await openAccount(`e2e-kill-${crypto.randomUUID()}`, initialCashMinor);
    const accountId = account.accountId;
    const ordersOf = async () => (await trading().listOrders({ accountId, page: { pageSize: 500 } })).orders;
    const running = gateway()
      .runTradingCycle({ accountId }, auth)
      .then(
        () => "completed",
        (e: unknown) => `failed: ${String(e)}`,
      );
    // Killed as soon as trading has placed the cycle's first order (its fill committed with it).
    for (const deadline = Date.now() + 120_000; (await ordersOf()).length === 0; ) {
      if (Date.now() > deadline) throw new Error("the cycle placed no order");
      await Bun.sleep(5);
    }
    platform.service("portfolio").signal("SIGKILL");
    await platform.service("portfolio").exited;
    const placedBeforeKill = (await ordersOf()).length;
    // Without portfolio, trading cannot check funds: the rest of the plan fails (or had already been placed).
    const outcome = await running;
    await platform.restart("portfolio");
    if (outcome !== "completed") {
      // A new cycle, once portfolio is back, trades what the first left undone.
      await gateway().runTradingCycle({ accountId }, auth);
    }
    const orders = await ordersOf();
    expect(orders.length).toBeGreaterThanOrEqual(placedBeforeKill);
    expect(orders.every((o) => o.status === OrderStatus.FILLED)).toBe(true);
    const expected = expectedBooks(initialCashMinor, orders);
    expect(expected.fills).toBeGreaterThan(0);
    expectBooksMatch(await portfolioAfter(accountId, expected.fills), expected);
    await Bun.sleep(1000); // a second application, if there were one, would show by now
    expectBooksMatch(await portfolioAfter(accountId, expected.fills), expected);
    console.log(`portfolio killed after ${placedBeforeKill} order(s) placed; the first cycle ${outcome}; ${orders.length} orders in all`);
  }, 300_000);
});
