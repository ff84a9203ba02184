/**
 * Trading's data on embedded PGlite (one connection), as `bun start` keeps it with no
 * DATABASE_URL (its downstreams on PostgreSQL): placing, filling, holding, cancelling and limit
 * fills work there too.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Portfolio } from "@meridian/sdk/portfolio";
import { OrderSide, OrderStatus, OrderType } from "@meridian/sdk/trading";
import { failureOf, run, startTrading, until, type TradingUnderTest } from "./in-process.js";

let t: TradingUnderTest;

beforeAll(async () => {
  t = await startTrading({ embedded: true });
  await t.ingest("MSFT", [["2024-01-05", 400_000_000n, 401_000_000n, 399_000_000n, 400_000_000n]]);
}, 120_000);

afterAll(async () => {
  await t?.dispose();
}, 30_000);

test("market and limit orders, funds, idempotency and cancellation on PGlite", async () => {
  const accountId = await t.openAccount(500_000n);
  const order = { accountId, symbol: "MSFT", side: OrderSide.BUY, type: OrderType.MARKET, quantity: 10n, limitPriceMicros: 0n, idempotencyKey: "a" };
  // $400 + 5 bps = $400.20 a share: 10 cost $4,002.00 of the $5,000.
  const placed = await run(t.client.placeOrder(order));
  expect(placed.order!.fills[0]).toMatchObject({ priceMicros: 400_200_000n, grossAmountMinor: 400_200n });
  expect((await run(t.client.placeOrder(order))).created).toBe(false);
  // 99,800 cents left: 3 more shares (120,060) are refused.
  expect(await failureOf(t.client.placeOrder({ ...order, quantity: 3n, idempotencyKey: "b" }))).toMatchObject({
    _tag: "InsufficientFunds",
    requiredMinor: 120_060n,
    availableMinor: 99_800n,
  });
  const resting = await run(t.client.placeOrder({ ...order, type: OrderType.LIMIT, quantity: 2n, limitPriceMicros: 390_000_000n, idempotencyKey: "c" }));
  const sell = await run(t.client.placeOrder({ ...order, side: OrderSide.SELL, type: OrderType.LIMIT, quantity: 4n, limitPriceMicros: 450_000_000n, idempotencyKey: "d" }));
  expect((await run(t.client.cancelOrder({ orderId: sell.order!.orderId }))).order!.status).toBe(OrderStatus.CANCELLED);
  await t.ingest("MSFT", [["2024-01-08", 395_000_000n, 396_000_000n, 389_000_000n, 392_000_000n]]);
  await until(async () => (await run(t.client.getOrder({ orderId: resting.order!.orderId }))).order!.status === OrderStatus.FILLED);
  const portfolio = t.clientOf(Portfolio);
  await until(async () => (await run(portfolio.getPortfolio({ accountId }))).portfolio!.fillsApplied === 2n);
  // 500,000 − 400,200 − 2 × $390 (78,000) = 21,800
  expect((await run(portfolio.getPortfolio({ accountId }))).portfolio!.cashMinor).toBe(21_800n);
}, 60_000);
