/**
 * The trading handlers through the in-process transport, with the real
 * universe, market and portfolio services in this process (as `bun start`
 * runs them) on a fresh PostgreSQL database.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Effect } from "effect";
import { Portfolio } from "@meridian/sdk/portfolio";
import { OrderSide, OrderStatus, OrderType, type PlaceOrderRequest } from "@meridian/sdk/trading";
import { Sector, Universe } from "@meridian/sdk/universe";
import { failureOf, run, startTrading, until, type TradingUnderTest } from "../test/in-process.js";

let t: TradingUnderTest;

beforeAll(async () => {
  t = await startTrading({ settings: { slippageBps: 5, feeBps: 10 } });
  // AAPL closes at $100.00 on 2024-01-05: its quote.
  await t.ingest("AAPL", [
    ["2024-01-04", 99_000_000n, 101_000_000n, 98_000_000n, 99_500_000n],
    ["2024-01-05", 99_500_000n, 100_500_000n, 99_000_000n, 100_000_000n],
  ]);
}, 120_000);

afterAll(async () => {
  await t?.dispose();
}, 30_000);

type Order = Omit<PlaceOrderRequest, "$typeName" | "$unknown">;

function buy(accountId: string, overrides: Partial<Order> = {}): Order {
  return {
    accountId,
    symbol: "AAPL",
    side: OrderSide.BUY,
    quantity: 10n,
    type: OrderType.MARKET,
    limitPriceMicros: 0n,
    idempotencyKey: crypto.randomUUID(),
    ...overrides,
  };
}

const fieldsOf = (error: { _tag: string }) =>
  error._tag === "InvalidArgument" ? (error as unknown as { fieldViolations: Array<{ field: string }> }).fieldViolations.map((v) => v.field) : error._tag;

describe("PlaceOrder", () => {
  test("a market buy fills at the quote plus slippage, with its fee, and portfolio applies the fill", async () => {
    const accountId = await t.openAccount(1_000_000n);
    const { order, created } = await run(t.client.placeOrder(buy(accountId)));
    expect(created).toBe(true);
    // $100.00 + 5 bps = $100.05; 10 shares = $1,000.50; fee 10 bps = 100.05 → 100 cents.
    expect(order).toMatchObject({ accountId, symbol: "AAPL", status: OrderStatus.FILLED, filledQuantity: 10n, currency: "USD" });
    expect(order!.fills).toEqual([expect.objectContaining({ quantity: 10n, priceMicros: 100_050_000n, grossAmountMinor: 100_050n, feeMinor: 100n })]);
    const portfolio = t.clientOf(Portfolio);
    await until(async () => (await run(portfolio.getPortfolio({ accountId }))).portfolio!.fillsApplied === 1n);
    const state = (await run(portfolio.getPortfolio({ accountId }))).portfolio!;
    expect(state.cashMinor).toBe(1_000_000n - 100_050n - 100n);
    expect(state.positions).toEqual([expect.objectContaining({ symbol: "AAPL", quantity: 10n })]);
  });

  test("the same idempotency key returns the same order; with other parameters it is refused", async () => {
    const accountId = await t.openAccount(1_000_000n);
    const request = buy(accountId, { idempotencyKey: "plan-1:AAPL" });
    const first = await run(t.client.placeOrder(request));
    const again = await run(t.client.placeOrder(request));
    expect(again.created).toBe(false);
    expect(again.order!.orderId).toBe(first.order!.orderId);
    const reused = await failureOf(t.client.placeOrder({ ...request, quantity: 11n }));
    expect(reused).toMatchObject({ _tag: "IdempotencyKeyReused", idempotencyKey: "plan-1:AAPL", orderId: first.order!.orderId });
    const { orders } = await run(t.client.listOrders({ accountId }));
    expect(orders.length).toBe(1);
  });

  test("a retry is answered with its order even once the symbol no longer trades (the refusal asks the database)", async () => {
    const universe = t.clientOf(Universe);
    await run(universe.upsertSecurity({ security: { symbol: "FADE", name: "Fading Co", sector: Sector.ENERGY, currency: "USD", active: true } }));
    await t.ingest("FADE", [["2024-01-05", 10_000_000n, 10_000_000n, 10_000_000n, 10_000_000n]]);
    const accountId = await t.openAccount(1_000_000n);
    // The account's first order makes it known to trading: later placements skip the lookup.
    const request = buy(accountId, { symbol: "FADE", quantity: 1n });
    const first = await run(t.client.placeOrder(request));
    await run(universe.upsertSecurity({ security: { symbol: "FADE", name: "Fading Co", sector: Sector.ENERGY, currency: "USD", active: false } }));
    // Trading's cache of the security lasts a few seconds: wait until a new order is refused.
    await until(async () => (await failureOf(t.client.placeOrder(buy(accountId, { symbol: "FADE", quantity: 1n }))).catch(() => undefined))?._tag === "SymbolNotTradable", 10_000);
    const again = await run(t.client.placeOrder(request));
    expect(again).toMatchObject({ created: false, order: { orderId: first.order!.orderId } });
    const reused = await failureOf(t.client.placeOrder({ ...request, quantity: 2n }));
    expect(reused).toMatchObject({ _tag: "IdempotencyKeyReused", orderId: first.order!.orderId });
  }, 20_000);

  test("a buy beyond the buying power is InsufficientFunds with both amounts", async () => {
    const accountId = await t.openAccount(100_000n);
    // 10 × $100.05 = 100,050 cents + 100 fee > 100,000.
    const error = await failureOf(t.client.placeOrder(buy(accountId)));
    expect(error).toMatchObject({ _tag: "InsufficientFunds", accountId, requiredMinor: 100_150n, availableMinor: 100_000n });
  });

  test("a sell of more than the account holds is InsufficientPosition", async () => {
    const accountId = await t.openAccount(1_000_000n);
    await run(t.client.placeOrder(buy(accountId, { quantity: 3n })));
    const error = await failureOf(t.client.placeOrder(buy(accountId, { side: OrderSide.SELL, quantity: 4n })));
    expect(error).toMatchObject({ _tag: "InsufficientPosition", accountId, symbol: "AAPL", requested: 4n, available: 3n });
    const sold = await run(t.client.placeOrder(buy(accountId, { side: OrderSide.SELL, quantity: 3n })));
    // $100.00 − 5 bps = $99.95
    expect(sold.order!.fills[0]).toMatchObject({ priceMicros: 99_950_000n, grossAmountMinor: 29_985n });
  });

  test("unknown and inactive symbols, unknown accounts and another currency are refused, precisely", async () => {
    const accountId = await t.openAccount(1_000_000n);
    expect(await failureOf(t.client.placeOrder(buy(accountId, { symbol: "NOPE" })))).toMatchObject({ _tag: "UnknownSymbol", symbol: "NOPE" });
    expect(await failureOf(t.client.placeOrder(buy("no-such-account")))).toMatchObject({ _tag: "UnknownAccount", accountId: "no-such-account" });
    const universe = t.clientOf(Universe);
    await run(universe.upsertSecurity({ security: { symbol: "GONE", name: "Gone Inc", sector: Sector.ENERGY, currency: "USD", active: false } }));
    expect(await failureOf(t.client.placeOrder(buy(accountId, { symbol: "GONE" })))).toMatchObject({ _tag: "SymbolNotTradable", symbol: "GONE" });
    const euros = await t.openAccount(1_000_000n, "EUR");
    expect(await failureOf(t.client.placeOrder(buy(euros)))).toMatchObject({
      _tag: "CurrencyMismatch",
      accountId: euros,
      accountCurrency: "EUR",
      symbol: "AAPL",
      symbolCurrency: "USD",
    });
  });

  test("a market order for a symbol without bars is NoQuote; a limit order for it rests", async () => {
    const accountId = await t.openAccount(1_000_000n);
    expect(await failureOf(t.client.placeOrder(buy(accountId, { symbol: "MSFT" })))).toMatchObject({ _tag: "NoQuote", symbol: "MSFT" });
    const { order } = await run(t.client.placeOrder(buy(accountId, { symbol: "MSFT", type: OrderType.LIMIT, limitPriceMicros: 50_000_000n })));
    expect(order).toMatchObject({ status: OrderStatus.OPEN, filledQuantity: 0n, fills: [] });
  });

  test("bad input names every field", async () => {
    const error = await failureOf(
      t.client.placeOrder({ accountId: "", symbol: "aapl", side: OrderSide.UNSPECIFIED, quantity: -1n, type: OrderType.LIMIT, limitPriceMicros: 0n, idempotencyKey: "" }),
    );
    expect(fieldsOf(error)).toEqual(["account_id", "symbol", "side", "quantity", "limit_price_micros", "idempotency_key"]);
  });
});

describe("limit orders", () => {
  test("a resting buy fills when ingested bars cross its limit, and only then", async () => {
    const accountId = await t.openAccount(1_000_000n);
    const { order } = await run(t.client.placeOrder(buy(accountId, { type: OrderType.LIMIT, limitPriceMicros: 97_000_000n })));
    expect(order!.status).toBe(OrderStatus.OPEN);
    // Not crossed: the low stays above $97.
    await t.ingest("AAPL", [["2024-01-08", 100_000_000n, 101_000_000n, 98_000_000n, 99_000_000n]]);
    await Bun.sleep(300);
    expect((await run(t.client.getOrder({ orderId: order!.orderId }))).order!.status).toBe(OrderStatus.OPEN);
    // Crossed: opens at $96.50, under the limit, so it fills at the open; fee 10 bps of 96,500 = 96.5 → 96 (half to even).
    await t.ingest("AAPL", [["2024-01-09", 96_500_000n, 98_000_000n, 96_000_000n, 97_500_000n]]);
    await until(async () => (await run(t.client.getOrder({ orderId: order!.orderId }))).order!.status === OrderStatus.FILLED);
    const filled = (await run(t.client.getOrder({ orderId: order!.orderId }))).order!;
    expect(filled.fills).toEqual([expect.objectContaining({ quantity: 10n, priceMicros: 96_500_000n, grossAmountMinor: 96_500n, feeMinor: 96n })]);
    const portfolio = t.clientOf(Portfolio);
    await until(async () => (await run(portfolio.getPortfolio({ accountId }))).portfolio!.fillsApplied === 1n);
    expect((await run(portfolio.getPortfolio({ accountId }))).portfolio!.cashMinor).toBe(1_000_000n - 96_500n - 96n);
    // The quote moved with the bars (the cached one was dropped): $97.50 + 5 bps = $97.54875.
    const next = await run(t.client.placeOrder(buy(accountId, { quantity: 1n })));
    expect(next.order!.fills[0]!.priceMicros).toBe(97_548_750n);
  }, 30_000);
});

describe("CancelOrder, GetOrder, ListOrders", () => {
  test("an open order is cancelled once; a filled one is OrderNotCancellable with its status", async () => {
    const accountId = await t.openAccount(1_000_000n);
    const resting = (await run(t.client.placeOrder(buy(accountId, { type: OrderType.LIMIT, limitPriceMicros: 10_000_000n })))).order!;
    const filled = (await run(t.client.placeOrder(buy(accountId)))).order!;
    const { order } = await run(t.client.cancelOrder({ orderId: resting.orderId }));
    expect(order).toMatchObject({ orderId: resting.orderId, status: OrderStatus.CANCELLED });
    expect(await failureOf(t.client.cancelOrder({ orderId: resting.orderId }))).toMatchObject({
      _tag: "OrderNotCancellable",
      orderId: resting.orderId,
      status: "cancelled",
    });
    expect(await failureOf(t.client.cancelOrder({ orderId: filled.orderId }))).toMatchObject({
      _tag: "OrderNotCancellable",
      orderId: filled.orderId,
      status: "filled",
    });
  });

  test("unknown and malformed order ids", async () => {
    const id = crypto.randomUUID();
    expect(await failureOf(t.client.getOrder({ orderId: id }))).toMatchObject({ _tag: "UnknownOrder", orderId: id });
    expect(await failureOf(t.client.cancelOrder({ orderId: id }))).toMatchObject({ _tag: "UnknownOrder", orderId: id });
    expect(fieldsOf(await failureOf(t.client.getOrder({ orderId: "nope" })))).toEqual(["order_id"]);
  });

  test("lists newest first, by status, page by page", async () => {
    const accountId = await t.openAccount(10_000_000n);
    const placed: string[] = [];
    for (let i = 0; i < 5; i++) placed.push((await run(t.client.placeOrder(buy(accountId, { quantity: 1n })))).order!.orderId);
    placed.push((await run(t.client.placeOrder(buy(accountId, { type: OrderType.LIMIT, limitPriceMicros: 1_000_000n })))).order!.orderId);
    const walked: string[] = [];
    let pageToken = "";
    do {
      const page = await run(t.client.listOrders({ accountId, page: { pageSize: 4, pageToken } }));
      walked.push(...page.orders.map((o) => o.orderId));
      pageToken = page.page?.nextPageToken ?? "";
    } while (pageToken !== "");
    expect(walked).toEqual([...placed].reverse());
    const open = await run(t.client.listOrders({ accountId, status: OrderStatus.OPEN }));
    expect(open.orders.map((o) => o.orderId)).toEqual([placed[5]!]);
    const first = await run(t.client.listOrders({ accountId, page: { pageSize: 2 } }));
    const misused = await failureOf(t.client.listOrders({ accountId, status: OrderStatus.FILLED, page: { pageToken: first.page!.nextPageToken } }));
    expect(fieldsOf(misused)).toEqual(["page.page_token"]);
    expect(fieldsOf(await failureOf(t.client.listOrders({ accountId: "", page: { pageSize: 501 } })))).toEqual(["account_id", "page.page_size"]);
  });
});
