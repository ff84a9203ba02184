/**
 * Trading end to end, as separate processes on the real PostgreSQL and Redis:
 * orders over Connect JSON (HTTP/1.1) and gRPC (HTTP/2), their fills reaching
 * portfolio through the outbox and the bus exactly once, limit orders filled
 * by bars ingested in market, and what bad requests get back on the wire.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { create, fromBinary } from "@bufbuild/protobuf";
import { Effect } from "effect";
import { ErrorInfoSchema, InvalidArgumentSchema } from "@meridian/sdk/common";
import { BarSchema, Market } from "@meridian/sdk/market";
import { createEffectClient, createNodeTransport, type ClientTarget } from "@meridian/sdk/node";
import { Portfolio, RiskProfile } from "@meridian/sdk/portfolio";
import { OrderSide, OrderStatus, OrderType, Trading } from "@meridian/sdk/trading";
import { orderFilled } from "../src/events.js";
import { eventsOnBus, startPlatform, type Platform } from "./processes.js";

let platform: Platform;

beforeAll(async () => {
  platform = await startPlatform({ TRADING_SLIPPAGE_BPS: "5", TRADING_FEE_BPS: "0" });
  // AAPL's quote: $100.00, the close of 2024-01-05.
  await run(
    market().ingestBars({
      symbol: "AAPL",
      bars: [
        create(BarSchema, { date: "2024-01-04", openMicros: 99_000_000n, highMicros: 101_000_000n, lowMicros: 98_000_000n, closeMicros: 99_500_000n, volume: 1000n }),
        create(BarSchema, { date: "2024-01-05", openMicros: 99_500_000n, highMicros: 100_500_000n, lowMicros: 99_000_000n, closeMicros: 100_000_000n, volume: 1000n }),
      ],
    }),
  );
}, 180_000);

afterAll(async () => {
  await platform?.stop();
}, 60_000);

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect);
const failureOf = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(Effect.flip(effect));
const market = () => createEffectClient(Market, { baseUrl: platform.market.httpUrl });
const portfolio = () => createEffectClient(Portfolio, { baseUrl: platform.portfolio.httpUrl });

const protocols: ReadonlyArray<{ name: string; target: () => ClientTarget }> = [
  { name: "Connect JSON over HTTP/1.1", target: () => ({ baseUrl: platform.trading.httpUrl }) },
  { name: "gRPC over HTTP/2", target: () => ({ transport: createNodeTransport({ baseUrl: platform.trading.grpcUrl, protocol: "grpc" }) }) },
];

async function openAccount(initialCashMinor: bigint): Promise<string> {
  const { account } = await run(
    portfolio().openAccount({ owner: "e2e", initialCashMinor, currency: "USD", riskProfile: RiskProfile.BALANCED, idempotencyKey: crypto.randomUUID() }),
  );
  return account!.accountId;
}

async function portfolioOnceApplied(accountId: string, fills: bigint) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const state = (await run(portfolio().getPortfolio({ accountId }, { timeoutMs: 30_000 }))).portfolio!;
    if (state.fillsApplied >= fills || Date.now() > deadline) return state;
    await Bun.sleep(50);
  }
}

function marketBuy(accountId: string, quantity: bigint, idempotencyKey = crypto.randomUUID()) {
  return { accountId, symbol: "AAPL", side: OrderSide.BUY, type: OrderType.MARKET, quantity, limitPriceMicros: 0n, idempotencyKey };
}

/** The OrderFilled events on the bus for an order. */
async function filledEventsOf(orderId: string) {
  const events = await eventsOnBus(orderFilled, platform.keyPrefix);
  return events.filter((event) => event.orderId === orderId);
}

for (const protocol of protocols) {
  describe(protocol.name, () => {
    const client = () => createEffectClient(Trading, protocol.target());

    test("a market buy fills; GetOrder and ListOrders show it; portfolio's cash is right to the cent", async () => {
      const accountId = await openAccount(1_000_000n);
      const { order } = await run(client().placeOrder(marketBuy(accountId, 7n)));
      // $100.05 × 7 = $700.35
      expect(order).toMatchObject({ status: OrderStatus.FILLED, filledQuantity: 7n });
      expect(order!.fills[0]).toMatchObject({ priceMicros: 100_050_000n, grossAmountMinor: 70_035n });
      expect((await run(client().getOrder({ orderId: order!.orderId }))).order!.fills.length).toBe(1);
      expect((await run(client().listOrders({ accountId }))).orders.map((o) => o.orderId)).toEqual([order!.orderId]);
      const state = await portfolioOnceApplied(accountId, 1n);
      expect(state.cashMinor).toBe(1_000_000n - 70_035n);
    }, 30_000);

    test("bad input is InvalidArgument naming each field", async () => {
      const error = await failureOf(
        client().placeOrder({ accountId: "", symbol: "AAPL", side: OrderSide.BUY, type: OrderType.MARKET, quantity: 0n, limitPriceMicros: 5n, idempotencyKey: "k" }),
      );
      expect(error._tag).toBe("InvalidArgument");
      if (error._tag === "InvalidArgument") expect(error.fieldViolations.map((v) => v.field)).toEqual(["account_id", "quantity", "limit_price_micros"]);
    });

    test("cancelling a filled order is OrderNotCancellable", async () => {
      const accountId = await openAccount(1_000_000n);
      const { order } = await run(client().placeOrder(marketBuy(accountId, 1n)));
      expect(await failureOf(client().cancelOrder({ orderId: order!.orderId }))).toMatchObject({
        _tag: "OrderNotCancellable",
        orderId: order!.orderId,
        status: "filled",
      });
    });
  });
}

describe("across processes on PostgreSQL and Redis", () => {
  const client = () => createEffectClient(Trading, { baseUrl: platform.trading.httpUrl });

  test("one idempotency key 50 times at once: one order, one fill, one OrderFilled event, applied once", async () => {
    const accountId = await openAccount(1_000_000n);
    const request = marketBuy(accountId, 10n, `e2e-${crypto.randomUUID()}`);
    // They queue on the account's lock: on a busy machine that takes longer than the default 5 s deadline.
    const responses = await Promise.all(Array.from({ length: 50 }, () => run(client().placeOrder(request, { timeoutMs: 30_000 }))));
    const ids = new Set(responses.map((r) => r.order!.orderId));
    expect(ids.size).toBe(1);
    expect(responses.filter((r) => r.created).length).toBe(1);
    const [orderId] = [...ids];
    const { orders } = await run(client().listOrders({ accountId }));
    expect(orders.length).toBe(1);
    expect(orders[0]!.fills.length).toBe(1);
    const state = await portfolioOnceApplied(accountId, 1n);
    await Bun.sleep(300); // a second event, were there one, would be applied by now
    expect((await run(portfolio().getPortfolio({ accountId }))).portfolio!.fillsApplied).toBe(1n);
    expect(state.cashMinor).toBe(1_000_000n - 100_050n);
    expect((await filledEventsOf(orderId!)).length).toBe(1);
  }, 60_000);

  test("concurrent buys of one account cannot overspend, and portfolio ends where trading's ledger does", async () => {
    // $10,000; each buy costs 100 × $100.05 / 10 = $1,000.50: 9 fit.
    const accountId = await openAccount(1_000_000n);
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, () => Effect.runPromise(Effect.flip(client().placeOrder(marketBuy(accountId, 10n), { timeoutMs: 30_000 })).pipe(Effect.orElseSucceed(() => "placed" as const)))),
    );
    const placed = outcomes.filter((o) => o === "placed");
    const refused = outcomes.filter((o) => o !== "placed").map((o) => (o as { _tag: string })._tag);
    expect(placed.length).toBe(9);
    expect(new Set(refused)).toEqual(new Set(["InsufficientFunds"]));
    const state = await portfolioOnceApplied(accountId, 9n);
    expect(state.cashMinor).toBe(1_000_000n - 9n * 100_050n);
  }, 60_000);

  test("a limit order rests, then fills when market ingests a bar that crosses it", async () => {
    const accountId = await openAccount(1_000_000n);
    const { order } = await run(
      client().placeOrder({ accountId, symbol: "AAPL", side: OrderSide.BUY, type: OrderType.LIMIT, quantity: 5n, limitPriceMicros: 98_000_000n, idempotencyKey: crypto.randomUUID() }),
    );
    expect(order!.status).toBe(OrderStatus.OPEN);
    await run(
      market().ingestBars({
        symbol: "AAPL",
        bars: [create(BarSchema, { date: "2024-01-08", openMicros: 99_000_000n, highMicros: 99_500_000n, lowMicros: 97_000_000n, closeMicros: 97_500_000n, volume: 1000n })],
      }),
    );
    const deadline = Date.now() + 20_000;
    let status = OrderStatus.OPEN;
    while (status === OrderStatus.OPEN && Date.now() < deadline) {
      await Bun.sleep(50);
      status = (await run(client().getOrder({ orderId: order!.orderId }))).order!.status;
    }
    expect(status).toBe(OrderStatus.FILLED);
    const filled = (await run(client().getOrder({ orderId: order!.orderId }))).order!;
    // The low reached $97 < $98 and the open ($99) was above the limit: it fills at the limit.
    expect(filled.fills[0]).toMatchObject({ priceMicros: 98_000_000n, grossAmountMinor: 49_000n });
    const state = await portfolioOnceApplied(accountId, 1n);
    expect(state.cashMinor).toBe(1_000_000n - 49_000n);
  }, 60_000);
});

describe("on the wire (curl's view)", () => {
  const post = async (method: string, body: unknown) => {
    const response = await fetch(`${platform.trading.httpUrl}/meridian.trading.v1.TradingService/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as { code?: string; details?: Array<{ type: string; value: string }> } };
  };
  const detail = <D extends typeof ErrorInfoSchema | typeof InvalidArgumentSchema>(body: { details?: Array<{ type: string; value: string }> }, schema: D) => {
    const found = body.details?.find((d) => d.type === schema.typeName);
    return found === undefined ? undefined : fromBinary(schema, Buffer.from(found.value, "base64url"));
  };

  test("bad JSON fields: 400 invalid_argument with a violation per field", async () => {
    const { status, body } = await post("PlaceOrder", { accountId: "a", symbol: "not a symbol", side: "ORDER_SIDE_BUY", type: "ORDER_TYPE_LIMIT", quantity: "-3" });
    expect(status).toBe(400);
    expect(body.code).toBe("invalid_argument");
    expect((detail(body, InvalidArgumentSchema)?.fieldViolations ?? []).map((v) => v.field)).toEqual([
      "symbol",
      "quantity",
      "limit_price_micros",
      "idempotency_key",
    ]);
  });

  test("CancelOrder of a filled order: failed_precondition with reason OrderNotCancellable", async () => {
    const accountId = await openAccount(1_000_000n);
    const placed = await post("PlaceOrder", { accountId, symbol: "AAPL", side: "ORDER_SIDE_BUY", type: "ORDER_TYPE_MARKET", quantity: "1", idempotencyKey: "curl-1" });
    expect(placed.status).toBe(200);
    const orderId = (placed.body as unknown as { order: { orderId: string; status: string } }).order.orderId;
    const { status, body } = await post("CancelOrder", { orderId });
    expect(status).toBe(400);
    expect(body.code).toBe("failed_precondition");
    expect(detail(body, ErrorInfoSchema)).toMatchObject({ reason: "OrderNotCancellable", domain: "trading", metadata: { orderId, status: "filled" } });
  });
});
