/**
 * The gateway in front of the whole platform (every service in this process,
 * composed as the launcher composes them, on PostgreSQL): status of every
 * service, accounts acting for the key's owner, another owner's account
 * refused, and a trading cycle whose orders and fills WatchEvents streams.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Effect, Fiber, Stream } from "effect";
import { createEffectClient, type EffectClient } from "@meridian/sdk";
import { Gateway, type WatchEventsResponse } from "@meridian/sdk/gateway";
import { Market, Regime } from "@meridian/sdk/market";
import { RiskProfile } from "@meridian/sdk/portfolio";
import { OrderSide, OrderStatus, OrderType } from "@meridian/sdk/trading";
import { generateApiKey } from "../src/domain/api-keys.js";
import { crashBars } from "../../market/test/market-bars.js";
import { addApiKey, startPlatform, type Platform } from "./platform.js";

const devKey = generateApiKey();
let platform: Platform;
let bobKey = "";
let gateway: EffectClient<typeof Gateway>;

beforeAll(async () => {
  platform = await startPlatform({ devApiKey: devKey });
  bobKey = await addApiKey(platform.database, "bob");
  gateway = createEffectClient(Gateway, { baseUrl: platform.url, policy: { retry: false, timeoutMs: 30_000 } });
}, 120_000);
afterAll(() => platform?.stop(), 30_000);

const as = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });
const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect);
const failure = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(Effect.flip(effect));
const open = (key: string, idempotencyKey: string, initialCashMinor = 10_000_000n) =>
  run(gateway.openAccount({ initialCashMinor, currency: "USD", riskProfile: RiskProfile.BALANCED, idempotencyKey }, as(key)));

async function until<A>(read: () => Promise<A>, done: (value: A) => boolean, what: string, timeoutMs = 20_000): Promise<A> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value, (_, v) => (typeof v === "bigint" ? String(v) : v))}`);
    await Bun.sleep(100);
  }
}

/** Follows an account's events in the background; resolves `following` once the stream says it is. */
function watch(key: string, accountId: string) {
  const received: WatchEventsResponse[] = [];
  let following: () => void = () => {};
  const started = new Promise<void>((resolve) => (following = resolve));
  const fiber = Effect.runFork(
    Stream.runForEach(gateway.watchEvents({ accountId }, as(key)), (event) =>
      Effect.sync(() => (event.event.case === "watching" ? following() : received.push(event))),
    ),
  );
  return { received, started, stop: () => Effect.runPromise(Fiber.interrupt(fiber)) };
}

describe("the gateway in front of the platform", () => {
  test("GetSystemStatus: every service serving, with its version, and the gateway's breakers closed", async () => {
    const status = await run(gateway.getSystemStatus({}, as(devKey)));
    expect(status.healthy).toBe(true);
    expect(status.services.map((s) => [s.name, s.state])).toEqual(
      ["gateway", "universe", "market", "scoring", "portfolio", "trading", "planning"].map((name) => [name, "serving"]),
    );
    expect(status.services.every((s) => s.version === "0.1.0")).toBe(true);
    const breakers = Object.fromEntries(status.services.map((s) => [s.name, s.breaker]));
    expect(breakers).toMatchObject({ market: "closed", portfolio: "closed", planning: "closed", trading: "closed", universe: "" });
  });

  test("accounts act for the key's owner: opened for it, listed for it only, the same key twice is one account", async () => {
    const first = await open(devKey, "main");
    expect(first.account?.owner).toBe("dev");
    expect(first.created).toBe(true);
    const again = await open(devKey, "main");
    expect(again).toMatchObject({ created: false, account: { accountId: first.account!.accountId } });
    // The same idempotency key from another owner is another account.
    const bobs = await open(bobKey, "main");
    expect(bobs.account?.owner).toBe("bob");
    expect(bobs.account?.accountId).not.toBe(first.account!.accountId);
    const mine = await run(gateway.listAccounts({}, as(devKey)));
    expect(mine.accounts.map((a) => a.accountId)).toContain(first.account!.accountId);
    expect(mine.accounts.every((a) => a.owner === "dev")).toBe(true);
    const portfolio = await run(gateway.getPortfolio({ accountId: first.account!.accountId }, as(devKey)));
    expect(portfolio.portfolio?.cashMinor).toBe(10_000_000n);
  });

  test("another owner's account is permission_denied on every account RPC; an unknown one is not_found", async () => {
    const devs = await open(devKey, "guarded");
    const accountId = devs.account!.accountId;
    expect((await failure(gateway.getPortfolio({ accountId }, as(bobKey))))._tag).toBe("PermissionDenied");
    expect((await failure(gateway.runTradingCycle({ accountId }, as(bobKey))))._tag).toBe("PermissionDenied");
    expect((await failure(Stream.runCollect(gateway.watchEvents({ accountId }, as(bobKey)))))._tag).toBe("PermissionDenied");
    const unknown = await failure(gateway.getPortfolio({ accountId: "01a0aaaa-0000-7000-8000-000000000000" }, as(devKey)));
    expect(unknown._tag).toBe("UnknownAccount");
    // Nothing of the refused calls reached the account.
    const portfolio = await run(gateway.getPortfolio({ accountId }, as(devKey)));
    expect(portfolio.portfolio?.fillsApplied).toBe(0n);
  });

  test("a trading cycle: regime, plan and orders come back, WatchEvents streams the account's orders and fills only, and the portfolio applies them", async () => {
    const mine = (await open(devKey, "cycle")).account!;
    const bobs = (await open(bobKey, "cycle")).account!;
    const watcher = watch(devKey, mine.accountId);
    try {
      await watcher.started;
      const [cycle, bobCycle] = await Promise.all([
        run(gateway.runTradingCycle({ accountId: mine.accountId }, as(devKey))),
        run(gateway.runTradingCycle({ accountId: bobs.accountId }, as(bobKey))),
      ]);
      expect(cycle.regime?.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(cycle.plan?.accountId).toBe(mine.accountId);
      expect(cycle.plan?.regime).toBe(cycle.regime!.regime);
      expect(cycle.orders.length).toBe(cycle.plan!.trades.length);
      expect(cycle.orders.length).toBeGreaterThan(0);
      expect(cycle.orders.every((o) => o.accountId === mine.accountId && o.status === OrderStatus.FILLED)).toBe(true);

      const orderIds = new Set(cycle.orders.map((o) => o.orderId));
      const fills = cycle.orders.flatMap((o) => o.fills.map((f) => ({ ...f, order: o })));
      await until(
        async () => watcher.received,
        (events) =>
          events.filter((e) => e.event.case === "orderPlaced").length >= orderIds.size &&
          events.filter((e) => e.event.case === "orderFilled").length >= fills.length,
        "the cycle's events",
      );
      const placed = watcher.received.flatMap((e) => (e.event.case === "orderPlaced" ? [e.event.value.orderId] : []));
      const filled = watcher.received.flatMap((e) => (e.event.case === "orderFilled" ? [e.event.value.fillId] : []));
      expect(new Set(placed)).toEqual(orderIds);
      expect(new Set(filled)).toEqual(new Set(fills.map((f) => f.fillId)));
      // Bob's cycle ran at the same time: none of his orders reached this stream.
      const bobOrders = new Set(bobCycle.orders.map((o) => o.orderId));
      expect(bobOrders.size).toBeGreaterThan(0);
      expect(placed.some((id) => bobOrders.has(id))).toBe(false);
      expect(watcher.received.every((e) => e.eventId !== "" && e.time !== undefined)).toBe(true);

      // The portfolio applies every fill: positions are the bought shares, cash what they cost, to the cent.
      const state = await until(
        () => run(gateway.getPortfolio({ accountId: mine.accountId }, as(devKey))).then((r) => r.portfolio!),
        (p) => p.fillsApplied === BigInt(fills.length),
        "every fill applied",
      );
      const spent = fills.reduce((sum, f) => sum + (f.order.side === OrderSide.BUY ? f.grossAmountMinor + f.feeMinor : -(f.grossAmountMinor - f.feeMinor)), 0n);
      expect(state.cashMinor).toBe(10_000_000n - spent);
      const bought = new Map<string, bigint>();
      for (const f of fills) bought.set(f.order.symbol, (bought.get(f.order.symbol) ?? 0n) + f.quantity);
      expect(new Map(state.positions.map((p) => [p.symbol, p.quantity]))).toEqual(bought);
    } finally {
      await watcher.stop();
    }
  }, 60_000);

  test("PlaceOrder acts on the caller's account only; the same idempotency key places one order", async () => {
    const account = (await open(devKey, "orders")).account!;
    const order = { accountId: account.accountId, symbol: "MSFT", side: OrderSide.BUY, quantity: 3n, type: OrderType.MARKET, idempotencyKey: "buy-msft-1" };
    const first = await run(gateway.placeOrder(order, as(devKey)));
    expect(first.created).toBe(true);
    expect(first.order).toMatchObject({ accountId: account.accountId, symbol: "MSFT", quantity: 3n });
    const again = await run(gateway.placeOrder(order, as(devKey)));
    expect(again).toMatchObject({ created: false, order: { orderId: first.order!.orderId } });
    expect((await failure(gateway.placeOrder(order, as(bobKey))))._tag).toBe("PermissionDenied");
    // Another service's domain error keeps its code (not_found: the SDK's NotFound) and names itself.
    const unknown = await failure(gateway.placeOrder({ ...order, symbol: "NOPE", idempotencyKey: "nope" }, as(devKey)));
    expect(unknown._tag).toBe("NotFound");
    expect(unknown.message).toStartWith("trading: UnknownSymbol");
  }, 60_000);

  // Last: it moves the market into a crisis.
  test("a regime change reaches every watcher, whatever its account", async () => {
    const account = (await open(bobKey, "regime")).account!;
    const watcher = watch(bobKey, account.accountId);
    try {
      await watcher.started;
      const market = createEffectClient(Market, { baseUrl: platform.url, policy: { retry: false, timeoutMs: 30_000 } });
      const before = (await run(market.getCurrentRegime({}))).reading!;
      const { quotes } = await run(market.getQuotes({ symbols: ["^MERIDIAN"] }));
      await run(market.ingestBars({ symbol: "^MERIDIAN", bars: crashBars(quotes[0]!.priceMicros, quotes[0]!.date) }));
      const after = await until(
        () => run(market.getCurrentRegime({})).then((r) => r.reading!),
        (reading) => reading.regime !== before.regime,
        "the regime to change",
      );
      const changes = await until(
        async () => watcher.received.flatMap((e) => (e.event.case === "regimeChanged" ? [e.event.value] : [])),
        (seen) => seen.length > 0,
        "a regime_changed event",
      );
      expect(changes.at(-1)).toMatchObject({ previous: before.regime, current: { regime: after.regime, asOf: after.asOf } });
      expect(after.regime).toBe(Regime.CRISIS);
    } finally {
      await watcher.stop();
    }
  }, 60_000);
});
