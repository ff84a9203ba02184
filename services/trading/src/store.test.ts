/**
 * The store on the real PostgreSQL, its outbox relayed to the real Redis: the
 * guarantees that hold however many placements race — one order per
 * idempotency key, no overspending, no overselling — and the events on the bus
 * are exactly what committed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Effect, Layer, ManagedRuntime } from "effect";
import postgres from "postgres";
import { consume, EventBus, layerOutbox, layerOutboxRelay, layerRedisEventBus, type ReceivedEvent } from "@meridian/kit/events";
import { layerRedis } from "@meridian/kit/redis";
import { dropRedisKeys, postgresDatabase, type TestDatabase } from "@meridian/kit/testing";
import { OrderSide, OrderStatus, OrderType, type OrderCancelled, type OrderFilled, type OrderPlaced } from "@meridian/sdk/trading";
import { orderCancelled, orderFilled, orderPlaced } from "./events.js";
import type { OrderTerms } from "./domain/order.js";
import { layerTradingDatabase } from "./service.js";
import { layerOrderStore, OrderStore, type Placement } from "./store.js";
import { Sql } from "@meridian/kit/postgres";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const keyPrefix = `test:trading-store:${crypto.randomUUID().slice(0, 8)}:`;

let database: TestDatabase;
let runtime: ManagedRuntime.ManagedRuntime<OrderStore | EventBus | Sql, unknown>;
let admin: postgres.Sql;
const seen = { placed: [] as OrderPlaced[], filled: [] as OrderFilled[], cancelled: [] as OrderCancelled[] };

beforeAll(async () => {
  database = await postgresDatabase();
  const bus = layerRedisEventBus({ source: "trading", keyPrefix }).pipe(Layer.provide(layerRedis({ url: redisUrl })));
  const db = layerTradingDatabase({ databaseUrl: database.env.DATABASE_URL, dataDir: "" });
  const store = layerOrderStore.pipe(Layer.provide(layerOutbox({ source: "trading" })));
  const relay = layerOutboxRelay({ pollIntervalMs: 10 });
  // A group of its own sees every event the relay publishes.
  const observe = <A extends OrderPlaced | OrderFilled | OrderCancelled>(sink: A[]) => (e: ReceivedEvent<A>) =>
    Effect.sync(() => void sink.push(e.payload));
  const observers = Layer.effectDiscard(
    Effect.all([
      consume({ event: orderPlaced, group: "observer", handle: observe(seen.placed), blockMs: 100 }),
      consume({ event: orderFilled, group: "observer", handle: observe(seen.filled), blockMs: 100 }),
      consume({ event: orderCancelled, group: "observer", handle: observe(seen.cancelled), blockMs: 100 }),
    ]),
  );
  runtime = ManagedRuntime.make(
    Layer.mergeAll(relay, observers).pipe(Layer.provideMerge(store), Layer.provideMerge(db), Layer.provideMerge(bus)),
  );
  await runtime.runPromise(Effect.void);
  admin = postgres(database.env.DATABASE_URL!, { max: 2, onnotice: () => {}, connection: { search_path: "trading" } });
}, 60_000);

afterAll(async () => {
  await runtime?.dispose();
  await admin?.end();
  await database?.drop();
  // The streams of this run, once nothing reads them.
  await dropRedisKeys(redisUrl, keyPrefix);
}, 30_000);

const store = () => runtime.runPromise(Effect.service(OrderStore));
let accounts = 0;

/** A new account with this initial cash, in USD. */
async function openAccount(initialCashMinor: bigint): Promise<string> {
  const accountId = `acct-${++accounts}-${crypto.randomUUID().slice(0, 6)}`;
  await runtime.runPromise((await store()).registerAccount(accountId, { currency: "USD", initialCashMinor }));
  return accountId;
}

function terms(accountId: string, overrides: Partial<OrderTerms> = {}): OrderTerms {
  return {
    accountId,
    symbol: "AAPL",
    side: OrderSide.BUY,
    type: OrderType.MARKET,
    quantity: 10n,
    limitPriceMicros: 0n,
    idempotencyKey: crypto.randomUUID(),
    ...overrides,
  };
}

async function place(t: OrderTerms, fillPriceMicros: bigint | undefined, restsAfter = "2024-01-05") {
  const placement: Placement = { terms: t, currency: "USD", fillPriceMicros, restsAfter, feeBps: 0, meta: {} };
  return runtime.runPromise((await store()).place(placement));
}

/** The account's ledger, and the same amounts recomputed from its fills and open orders. */
async function ledger(accountId: string) {
  const [row] = await admin<{ cash: string; held: string; recomputed_cash: string; recomputed_held: string }[]>`
    select a.cash_minor as cash, a.held_minor as held,
      a.initial_cash_minor + coalesce((select sum(case when side = 1 then -(gross_amount_minor + fee_minor) else gross_amount_minor - fee_minor end)
                                       from fills f where f.account_id = a.account_id), 0) as recomputed_cash,
      coalesce((select sum(held_minor) from orders o where o.account_id = a.account_id and status = 1), 0) as recomputed_held
    from accounts a where a.account_id = ${accountId}`;
  return { cash: BigInt(row!.cash), held: BigInt(row!.held), recomputedCash: BigInt(row!.recomputed_cash), recomputedHeld: BigInt(row!.recomputed_held) };
}

async function count(table: "orders" | "fills", accountId: string): Promise<number> {
  const [row] = await admin<{ n: number }[]>`select count(*)::int as n from ${admin(table)} where account_id = ${accountId}`;
  return row!.n;
}

/** Waits until the relay has published every committed row and the observers have had time to read them. */
async function drained(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const [row] = await admin<{ n: number }[]>`select count(*)::int as n from meridian_outbox where sent_at is null`;
    if (row!.n === 0) break;
    await Bun.sleep(25);
  }
  await Bun.sleep(400);
}

describe("account facts", () => {
  test("an account's facts are known once looked up or registered, and not before", async () => {
    const s = await store();
    const unseen = `acct-unseen-${crypto.randomUUID().slice(0, 6)}`;
    expect(s.knownFacts(unseen)).toBeUndefined();
    expect(await runtime.runPromise(s.lookup(unseen, "k"))).toEqual({ earlier: undefined, facts: undefined });
    expect(s.knownFacts(unseen)).toBeUndefined();

    const registered = await openAccount(5_000n);
    expect(s.knownFacts(registered)).toEqual({ currency: "USD", initialCashMinor: 5_000n });

    // Another instance's registration: this one learns the facts from its lookup.
    const elsewhere = `acct-elsewhere-${crypto.randomUUID().slice(0, 6)}`;
    await admin`insert into accounts (account_id, currency, initial_cash_minor, cash_minor) values (${elsewhere}, 'EUR', 7000, 7000)`;
    expect(s.knownFacts(elsewhere)).toBeUndefined();
    expect((await runtime.runPromise(s.lookup(elsewhere, "k"))).facts).toEqual({ currency: "EUR", initialCashMinor: 7_000n });
    expect(s.knownFacts(elsewhere)).toEqual({ currency: "EUR", initialCashMinor: 7_000n });
  });
});

describe("placing orders on PostgreSQL", () => {
  test("the same idempotency key 50 times at once: one order, one fill, one OrderFilled event", async () => {
    const accountId = await openAccount(100_000_000n);
    const same = terms(accountId, { idempotencyKey: "same-key" });
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => place(same, 100_050_000n)));
    const placed = outcomes.filter((o) => o._tag === "Placed");
    const existing = outcomes.filter((o) => o._tag === "Existing");
    expect(placed.length).toBe(1);
    expect(existing.length).toBe(49);
    const orderId = placed[0]!._tag === "Placed" ? placed[0]!.order.orderId : "";
    expect(new Set(outcomes.map((o) => ("order" in o ? o.order.orderId : "")))).toEqual(new Set([orderId]));
    expect(await count("orders", accountId)).toBe(1);
    expect(await count("fills", accountId)).toBe(1);
    await drained();
    expect(seen.filled.filter((e) => e.orderId === orderId).length).toBe(1);
    expect(seen.placed.filter((e) => e.orderId === orderId).length).toBe(1);
    // 10 × $100.05 = $1,000.50
    const books = await ledger(accountId);
    expect(books.cash).toBe(100_000_000n - 100_050n);
    expect(books.cash).toBe(books.recomputedCash);
  }, 30_000);

  test("the same key with other parameters is refused, naming the order it placed", async () => {
    const accountId = await openAccount(100_000_000n);
    const first = await place(terms(accountId, { idempotencyKey: "k" }), 100_000_000n);
    const again = await place(terms(accountId, { idempotencyKey: "k", quantity: 11n }), 100_000_000n);
    expect(first._tag).toBe("Placed");
    expect(again).toEqual({ _tag: "KeyReused", orderId: first._tag === "Placed" ? first.order.orderId : "" });
    expect(await count("orders", accountId)).toBe(1);
  });

  test("40 concurrent buys of one account cannot spend more than it has", async () => {
    // $10,000; each buy costs 100 × $10.005 = $1,000.50: exactly 9 fit.
    const accountId = await openAccount(1_000_000n);
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, () => place(terms(accountId, { quantity: 100n }), 10_005_000n)),
    );
    expect(outcomes.filter((o) => o._tag === "Placed").length).toBe(9);
    const refused = outcomes.filter((o) => o._tag === "InsufficientFunds");
    expect(refused.length).toBe(31);
    expect(refused[0]).toEqual({ _tag: "InsufficientFunds", requiredMinor: 100_050n, availableMinor: 99_550n });
    const books = await ledger(accountId);
    expect(books.cash).toBe(1_000_000n - 9n * 100_050n);
    expect(books.cash).toBe(books.recomputedCash);
    expect(await count("fills", accountId)).toBe(9);
  }, 30_000);

  test("a buy of exactly the buying power passes, a cent more is refused; a refusal writes nothing, not even an event", async () => {
    const accountId = await openAccount(1_000_000n);
    // A resting buy holds $2,500: $7,500.00 of buying power is left.
    expect((await place(terms(accountId, { type: OrderType.LIMIT, quantity: 25n, limitPriceMicros: 100_000_000n }), undefined))._tag).toBe("Placed");
    const outboxRows = async () => (await admin<{ n: number }[]>`select count(*)::int as n from meridian_outbox`)[0]!.n;
    const before = await outboxRows();
    const centMore = await place(terms(accountId, { quantity: 1n }), 7_500_010_000n);
    expect(centMore).toEqual({ _tag: "InsufficientFunds", requiredMinor: 750_001n, availableMinor: 750_000n });
    const neverHeld = await place(terms(accountId, { side: OrderSide.SELL, symbol: "MSFT", quantity: 1n }), 100_000_000n);
    expect(neverHeld).toEqual({ _tag: "InsufficientPosition", requested: 1n, available: 0n });
    expect(await outboxRows()).toBe(before);
    expect(await count("orders", accountId)).toBe(1);
    expect((await place(terms(accountId, { quantity: 1n }), 7_500_000_000n))._tag).toBe("Placed");
    const books = await ledger(accountId);
    expect(books).toEqual({ cash: 250_000n, held: 250_000n, recomputedCash: 250_000n, recomputedHeld: 250_000n });
  });

  test("an open limit buy holds its cost: what it holds cannot be spent twice", async () => {
    const accountId = await openAccount(1_000_000n);
    // Holds 50 × $150 = $7,500.
    const limit = await place(terms(accountId, { type: OrderType.LIMIT, quantity: 50n, limitPriceMicros: 150_000_000n }), undefined);
    expect(limit._tag).toBe("Placed");
    if (limit._tag === "Placed") expect(limit.order.status).toBe(OrderStatus.OPEN);
    // $2,500 left: a $2,600 market buy is refused.
    const tooMuch = await place(terms(accountId, { quantity: 26n }), 100_000_000n);
    expect(tooMuch).toEqual({ _tag: "InsufficientFunds", requiredMinor: 260_000n, availableMinor: 250_000n });
    const books = await ledger(accountId);
    expect(books.held).toBe(750_000n);
    expect(books.held).toBe(books.recomputedHeld);
  });

  test("sells are limited to shares filled less shares already offered, even when they race", async () => {
    const accountId = await openAccount(10_000_000n);
    expect((await place(terms(accountId, { quantity: 30n }), 50_000_000n))._tag).toBe("Placed");
    const restingSell = await place(terms(accountId, { side: OrderSide.SELL, type: OrderType.LIMIT, quantity: 10n, limitPriceMicros: 60_000_000n }), undefined);
    expect(restingSell._tag).toBe("Placed");
    // 20 shares are free to sell: of 8 racing sells of 3, six pass.
    const sells = await Promise.all(
      Array.from({ length: 8 }, () => place(terms(accountId, { side: OrderSide.SELL, quantity: 3n }), 50_000_000n)),
    );
    expect(sells.filter((o) => o._tag === "Placed").length).toBe(6);
    expect(sells.filter((o) => o._tag === "InsufficientPosition")).toContainEqual({ _tag: "InsufficientPosition", requested: 3n, available: 2n });
    const [holding] = await admin<{ filled: string; offered: string }[]>`
      select filled_quantity as filled, offered_quantity as offered from holdings where account_id = ${accountId} and symbol = 'AAPL'`;
    expect(holding).toEqual({ filled: "12", offered: "10" });
  }, 30_000);

  test("cancelling an open limit buy releases its hold; a filled order cannot be cancelled", async () => {
    const accountId = await openAccount(1_000_000n);
    const limit = await place(terms(accountId, { type: OrderType.LIMIT, quantity: 10n, limitPriceMicros: 100_000_000n }), undefined);
    const market = await place(terms(accountId, { quantity: 1n }), 100_000_000n);
    if (limit._tag !== "Placed" || market._tag !== "Placed") throw new Error("both should be placed");
    const s = await store();
    const cancelled = await runtime.runPromise(s.cancel(limit.order.orderId, "changed my mind", {}));
    expect(cancelled._tag).toBe("Cancelled");
    if (cancelled._tag === "Cancelled") expect(cancelled.order.status).toBe(OrderStatus.CANCELLED);
    expect((await ledger(accountId)).held).toBe(0n);
    expect(await runtime.runPromise(s.cancel(limit.order.orderId, "again", {}))).toEqual({ _tag: "NotCancellable", status: OrderStatus.CANCELLED });
    expect(await runtime.runPromise(s.cancel(market.order.orderId, "too late", {}))).toEqual({ _tag: "NotCancellable", status: OrderStatus.FILLED });
    expect(await runtime.runPromise(s.cancel(crypto.randomUUID(), "", {}))).toEqual({ _tag: "Unknown" });
    await drained();
    expect(seen.cancelled.filter((e) => e.orderId === limit.order.orderId)).toEqual([
      expect.objectContaining({ accountId, symbol: "AAPL", cancelledQuantity: 10n, reason: "changed my mind" }),
    ]);
  });

  test("a limit order fills at the first later bar that crosses it, once", async () => {
    const accountId = await openAccount(1_000_000n);
    const buy = await place(
      terms(accountId, { symbol: "MSFT", type: OrderType.LIMIT, quantity: 10n, limitPriceMicros: 100_000_000n }),
      undefined,
      "2024-01-05",
    );
    if (buy._tag !== "Placed") throw new Error("placed");
    const s = await store();
    const bars = [
      // Dated on the day it was placed: too early, though it crosses.
      { date: "2024-01-05", openMicros: 95_000_000n, highMicros: 96_000_000n, lowMicros: 94_000_000n },
      { date: "2024-01-08", openMicros: 105_000_000n, highMicros: 106_000_000n, lowMicros: 101_000_000n },
      { date: "2024-01-09", openMicros: 99_500_000n, highMicros: 103_000_000n, lowMicros: 98_000_000n },
    ];
    const sql = await runtime.runPromise(Effect.service(Sql));
    const fillNow = () => sql.begin((tx) => s.fillResting(tx, "MSFT", bars, 0, {})) as Promise<number>;
    expect(await fillNow()).toBe(1);
    expect(await fillNow()).toBe(0);
    const order = await runtime.runPromise(s.get(buy.order.orderId));
    // Jan 9 opens at $99.50, under the $100 limit: it fills at the open.
    expect(order).toMatchObject({ status: OrderStatus.FILLED, filledQuantity: 10n, heldMinor: 0n });
    expect(order!.fills).toEqual([expect.objectContaining({ quantity: 10n, priceMicros: 99_500_000n, grossAmountMinor: 99_500n })]);
    const books = await ledger(accountId);
    expect(books).toEqual({ cash: 1_000_000n - 99_500n, held: 0n, recomputedCash: 1_000_000n - 99_500n, recomputedHeld: 0n });
    await drained();
    expect(seen.filled.filter((e) => e.orderId === buy.order.orderId)).toEqual([
      expect.objectContaining({ accountId, symbol: "MSFT", quantity: 10n, priceMicros: 99_500_000n, grossAmountMinor: 99_500n, remainingQuantity: 0n }),
    ]);
  });

  test("a resting sell offers its shares until it is cancelled or filled", async () => {
    const accountId = await openAccount(10_000_000n);
    expect((await place(terms(accountId, { symbol: "KO", quantity: 10n }), 60_000_000n))._tag).toBe("Placed");
    const sellAt = (quantity: bigint, key: string) =>
      place(terms(accountId, { symbol: "KO", side: OrderSide.SELL, type: OrderType.LIMIT, quantity, limitPriceMicros: 70_000_000n, idempotencyKey: key }), undefined);
    const first = await sellAt(6n, "s1");
    const second = await sellAt(4n, "s2");
    if (first._tag !== "Placed" || second._tag !== "Placed") throw new Error("both sells rest");
    const holding = async () =>
      (await admin<{ filled: string; offered: string }[]>`
        select filled_quantity as filled, offered_quantity as offered from holdings where account_id = ${accountId} and symbol = 'KO'`)[0];
    expect(await holding()).toEqual({ filled: "10", offered: "10" });
    const s = await store();
    expect((await runtime.runPromise(s.cancel(second.order.orderId, "", {})))._tag).toBe("Cancelled");
    expect(await holding()).toEqual({ filled: "10", offered: "6" });
    const sql = await runtime.runPromise(Effect.service(Sql));
    const bars = [{ date: "2024-01-08", openMicros: 69_000_000n, highMicros: 71_000_000n, lowMicros: 68_000_000n }];
    expect(await (sql.begin((tx) => s.fillResting(tx, "KO", bars, 0, {})) as Promise<number>)).toBe(1);
    expect(await holding()).toEqual({ filled: "4", offered: "0" });
    // 10 × $60 paid, 6 × $70 received.
    const books = await ledger(accountId);
    expect(books.cash).toBe(10_000_000n - 60_000n + 42_000n);
    expect(books.cash).toBe(books.recomputedCash);
  });

  test("placements of many accounts at once share statements, each decided as if alone", async () => {
    const rich = await Promise.all(Array.from({ length: 30 }, () => openAccount(10_000_000n)));
    const poor = await openAccount(1_000n);
    const retried = await openAccount(10_000_000n);
    const earlier = await place(terms(retried, { idempotencyKey: "again" }), 100_000_000n);
    const twice = await openAccount(150_000n);
    const unregistered = `acct-unregistered-${crypto.randomUUID().slice(0, 6)}`;
    const settled = await Promise.allSettled([
      ...rich.map((accountId) => place(terms(accountId, { quantity: 1n }), 100_000_000n)),
      place(terms(poor, { quantity: 1n }), 100_000_000n),
      place(terms(retried, { idempotencyKey: "again" }), 100_000_000n),
      place(terms(retried, { idempotencyKey: "again", quantity: 2n }), 100_000_000n),
      place(terms(twice, { quantity: 10n }), 100_000_000n),
      place(terms(twice, { quantity: 10n }), 100_000_000n),
      place(terms(rich[0]!, { side: OrderSide.SELL, symbol: "MSFT", quantity: 1n }), 100_000_000n),
      // A bug (an account placed before it was registered) fails its own placement only.
      place(terms(unregistered, { quantity: 1n }), 100_000_000n),
    ]);
    const outcomes = settled.slice(0, -1).map((s) => (s.status === "fulfilled" ? s.value : { _tag: `rejected: ${String(s.reason)}` }));
    const [poorOutcome, retry, reused, twiceA, twiceB, neverHeld] = outcomes.slice(rich.length);
    expect(outcomes.slice(0, rich.length).every((o) => o._tag === "Placed")).toBe(true);
    expect(poorOutcome).toEqual({ _tag: "InsufficientFunds", requiredMinor: 10_000n, availableMinor: 1_000n });
    expect(earlier._tag).toBe("Placed");
    if (earlier._tag === "Placed") {
      expect(retry).toEqual({ _tag: "Existing", order: earlier.order });
      expect(reused).toEqual({ _tag: "KeyReused", orderId: earlier.order.orderId });
    }
    // The account's two placements are decided one after the other: the second sees the first's spend.
    expect([twiceA!._tag, twiceB!._tag].sort()).toEqual(["InsufficientFunds", "Placed"]);
    expect([twiceA, twiceB]).toContainEqual({ _tag: "InsufficientFunds", requiredMinor: 100_000n, availableMinor: 50_000n });
    expect(neverHeld).toEqual({ _tag: "InsufficientPosition", requested: 1n, available: 0n });
    expect(settled.at(-1)!.status).toBe("rejected");
    // Only what was placed was written: each placed market order and its fill, with their two events.
    const placed = outcomes.flatMap((o) => (o._tag === "Placed" && "order" in o ? [o.order.orderId] : []));
    expect(placed.length).toBe(rich.length + 1);
    await drained();
    const ours = new Set(placed);
    expect(seen.placed.filter((e) => ours.has(e.orderId)).length).toBe(placed.length);
    expect(seen.filled.filter((e) => ours.has(e.orderId)).length).toBe(placed.length);
    expect(seen.placed.filter((e) => e.accountId === poor || e.accountId === unregistered).length).toBe(0);
    expect(seen.placed.filter((e) => e.accountId === twice).length).toBe(1);
    for (const accountId of [poor, twice, retried]) expect((await ledger(accountId)).cash).toBe((await ledger(accountId)).recomputedCash);
    // Rows written by one statement carry its transaction's id: the placements shared statements.
    const [counted] = await admin<{ statements: number }[]>`
      select count(distinct xmin::text)::int as statements from orders where order_id = any(${placed}::uuid[])`;
    expect(counted!.statements).toBeLessThan(placed.length / 2);
  }, 30_000);

  test("the events on the bus are exactly the committed orders and fills", async () => {
    await drained();
    const orders = await admin<{ order_id: string; account_id: string; quantity: string }[]>`select order_id, account_id, quantity from orders`;
    const fills = await admin<{ fill_id: string; order_id: string; gross_amount_minor: string }[]>`select fill_id, order_id, gross_amount_minor from fills`;
    expect(seen.placed.map((e) => e.orderId).sort()).toEqual(orders.map((o) => o.order_id).sort());
    expect(seen.filled.map((e) => e.fillId).sort()).toEqual(fills.map((f) => f.fill_id).sort());
    const byFill = new Map(fills.map((f) => [f.fill_id, f]));
    for (const event of seen.filled) {
      expect(event.orderId).toBe(byFill.get(event.fillId)!.order_id);
      expect(event.grossAmountMinor).toBe(BigInt(byFill.get(event.fillId)!.gross_amount_minor));
    }
  }, 30_000);
});
