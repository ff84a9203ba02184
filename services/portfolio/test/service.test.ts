/**
 * The portfolio service in this process on the real PostgreSQL and Redis, market unreachable:
 * accounts, fills applied through the real outbox → bus → consumer path, the valuation fallback,
 * and bad input.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Effect, Fiber, Stream } from "effect";
import postgres from "postgres";
import type { PortfolioState } from "@meridian/sdk/portfolio";
import { RiskProfile } from "@meridian/sdk/portfolio";
import { tail } from "@meridian/kit/events";
import { AccountChangedEvent } from "../src/events.js";
import { eventually, orderFilled, startFillProducer, type FillProducer } from "./fills-fixture.js";
import { startHarness, type Harness } from "./harness.js";

let harness: Harness;
let producer: FillProducer;

beforeAll(async () => {
  // Watchers check their account themselves every 200 ms (besides following notifications).
  harness = await startHarness({ options: { watchRecheckMs: 200 } });
  producer = await startFillProducer(harness.databaseUrl, harness.bus);
}, 60_000);

afterAll(async () => {
  await producer?.dispose();
  await harness?.dispose();
});

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect);
const failureOf = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(Effect.flip(effect));
const open = (owner: string, idempotencyKey: string, initialCashMinor = 1_000_000n) =>
  run(harness.client.openAccount({ owner, initialCashMinor, riskProfile: RiskProfile.BALANCED, idempotencyKey }));
const portfolioOf = (accountId: string) => run(harness.client.getPortfolio({ accountId })).then((r) => r.portfolio!);

describe("accounts", () => {
  test("OpenAccount opens an account with its cash; the same key returns the same account", async () => {
    const first = await open("alice", "open-1", 250_000n);
    expect(first.created).toBe(true);
    expect(first.account).toMatchObject({ owner: "alice", currency: "USD", initialCashMinor: 250_000n, riskProfile: RiskProfile.BALANCED });
    const again = await open("alice", "open-1", 250_000n);
    expect(again.created).toBe(false);
    expect(again.account!.accountId).toBe(first.account!.accountId);
    const portfolio = await portfolioOf(first.account!.accountId);
    expect(portfolio).toMatchObject({ cashMinor: 250_000n, totalValueMinor: 250_000n, positions: [], fillsApplied: 0n, pricesStale: false });
  });

  test("a key reused with other parameters is refused, naming idempotency_key", async () => {
    await open("bob", "open-2", 100n);
    const error = await failureOf(
      harness.client.openAccount({ owner: "bob", initialCashMinor: 200n, riskProfile: RiskProfile.BALANCED, idempotencyKey: "open-2" }),
    );
    expect(error._tag).toBe("InvalidArgument");
    if (error._tag === "InvalidArgument") expect(error.fieldViolations.map((v) => v.field)).toEqual(["idempotency_key"]);
  });

  test("ListAccounts returns the owner's accounts, oldest first", async () => {
    const a = await open("carol", "c-1");
    const b = await open("carol", "c-2");
    await open("dave", "d-1");
    const { accounts } = await run(harness.client.listAccounts({ owner: "carol" }));
    expect(accounts.map((x) => x.accountId)).toEqual([a.account!.accountId, b.account!.accountId]);
  });
});

describe("bad input", () => {
  test("OpenAccount names every bad field", async () => {
    const error = await failureOf(
      harness.client.openAccount({ owner: "", initialCashMinor: -5n, currency: "usd", riskProfile: RiskProfile.UNSPECIFIED, idempotencyKey: "" }),
    );
    expect(error._tag).toBe("InvalidArgument");
    if (error._tag === "InvalidArgument") {
      expect(error.fieldViolations.map((v) => v.field)).toEqual(["owner", "initial_cash_minor", "currency", "risk_profile", "idempotency_key"]);
    }
  });

  test("an empty account id is InvalidArgument; an unknown one, UUID or not, is UnknownAccount", async () => {
    const empty = await failureOf(harness.client.getPortfolio({ accountId: "" }));
    expect(empty._tag).toBe("InvalidArgument");
    for (const accountId of ["0193a5e0-7c1a-7b2e-9f00-123456789abc", "not-an-id"]) {
      const unknown = await failureOf(harness.client.getPortfolio({ accountId }));
      expect(unknown._tag).toBe("UnknownAccount");
      if (unknown._tag === "UnknownAccount") expect(unknown.accountId).toBe(accountId);
    }
    const perf = await failureOf(harness.client.getPerformance({ accountId: "0193a5e0-7c1a-7b2e-9f00-123456789abc" }));
    expect(perf._tag).toBe("UnknownAccount");
  });

  test("ListAccounts needs an owner; GetPerformance needs real dates in order", async () => {
    const list = await failureOf(harness.client.listAccounts({ owner: " " }));
    expect(list._tag).toBe("InvalidArgument");
    const { account } = await open("erin", "e-1");
    const dates = await failureOf(harness.client.getPerformance({ accountId: account!.accountId, from: "2024-02-30", to: "yesterday" }));
    expect(dates._tag).toBe("InvalidArgument");
    if (dates._tag === "InvalidArgument") expect(dates.fieldViolations.map((v) => v.field)).toEqual(["from", "to"]);
    const order = await failureOf(harness.client.getPerformance({ accountId: account!.accountId, from: "2024-03-02", to: "2024-03-01" }));
    if (order._tag === "InvalidArgument") expect(order.fieldViolations.map((v) => v.field)).toEqual(["to"]);
    else throw new Error(`expected InvalidArgument, got ${order._tag}`);
  });
});

describe("fills", () => {
  test("fills move cash and positions to the cent; with market down the portfolio is valued at the last fill price, marked stale", async () => {
    const { account } = await open("frank", "f-1", 1_000_000n);
    const accountId = account!.accountId;
    await producer.write([
      // buy 10 @ $150.00 + $1.00 fee: cash −150,100
      orderFilled({ accountId, fillId: "frank-1", side: "buy", quantity: 10n, priceMicros: 150_000_000n, feeMinor: 100n, filledAt: new Date("2026-11-02T15:00:00Z") }),
      // buy 5 @ $160.00: cash −80,000; 15 shares costing 230,000
      orderFilled({ accountId, fillId: "frank-2", side: "buy", quantity: 5n, priceMicros: 160_000_000n, filledAt: new Date("2026-11-03T15:00:00Z") }),
      // sell 6 @ $170.00 − $0.50 fee: cash +101,950; realised 102,000 − 50 − 92,000 = 9,950
      orderFilled({ accountId, fillId: "frank-3", side: "sell", quantity: 6n, priceMicros: 170_000_000n, feeMinor: 50n, filledAt: new Date("2026-11-04T15:00:00Z") }),
    ]);
    await eventually("three fills applied", async () => (await portfolioOf(accountId)).fillsApplied === 3n);
    const portfolio = await portfolioOf(accountId);
    // 1,000,000 − 150,100 − 80,000 + 101,950
    expect(portfolio.cashMinor).toBe(871_850n);
    // −100 (buy fee) + 9,950
    expect(portfolio.realizedPnlMinor).toBe(9_850n);
    expect(portfolio.pricesStale).toBe(true);
    expect(portfolio.valuedAsOf).toBe("2026-11-04");
    expect(portfolio.positions).toHaveLength(1);
    // 9 shares costing 138,000 valued at the last fill, $170.00: 153,000
    expect(portfolio.positions[0]).toMatchObject({
      symbol: "AAPL",
      quantity: 9n,
      costBasisMinor: 138_000n,
      averageCostMicros: 153_333_333n,
      lastPriceMicros: 170_000_000n,
      marketValueMinor: 153_000n,
      unrealizedPnlMinor: 15_000n,
    });
    expect(portfolio.totalValueMinor).toBe(871_850n + 153_000n);
    // total = initial + realised + unrealised
    expect(portfolio.totalValueMinor).toBe(1_000_000n + 9_850n + 15_000n);
    expect(portfolio.positions[0]!.weight).toBeCloseTo(153_000 / 1_024_850, 9);
  });

  test("each account's AccountChanged carries the correlation id of that account's latest fill", async () => {
    const ivy = (await open("ivy", "corr-ivy")).account!.accountId;
    const jack = (await open("jack", "corr-jack")).account!.accountId;
    const seen: Array<{ accountId: string; correlationId: string }> = [];
    let following!: () => void;
    const started = new Promise<void>((resolve) => (following = resolve));
    const fiber = Effect.runFork(
      tail(AccountChangedEvent, { blockMs: 100, onFollowing: () => following() }).pipe(
        Stream.runForEach((e) => Effect.sync(() => void seen.push({ accountId: e.payload.accountId, correlationId: e.correlationId }))),
        Effect.provide(harness.bus),
      ),
    );
    await started;
    // One transaction: the three fills reach portfolio together, as one batch of its consumer.
    await producer.write(
      [
        orderFilled({ accountId: ivy, fillId: "ivy-1", side: "buy", quantity: 1n, priceMicros: 100_000_000n }),
        orderFilled({ accountId: jack, fillId: "jack-1", side: "buy", quantity: 1n, priceMicros: 100_000_000n }),
        orderFilled({ accountId: ivy, fillId: "ivy-2", side: "buy", quantity: 1n, priceMicros: 100_000_000n }),
      ],
      50,
      (fill) => ({ correlationId: `req-${fill.fillId}` }),
    );
    const latest = (accountId: string) => seen.filter((e) => e.accountId === accountId).at(-1)?.correlationId;
    await eventually("both accounts' changes", async () => latest(ivy) === "req-ivy-2" && latest(jack) === "req-jack-1");
    await Effect.runPromise(Fiber.interrupt(fiber));
    // Never another account's request.
    for (const e of seen) expect(e.correlationId.startsWith(e.accountId === ivy ? "req-ivy-" : "req-jack-")).toBe(true);
  });

  test("the same fill in another envelope has no second effect; a sell of more than is held is never applied", async () => {
    const { account } = await open("gina", "g-1", 500_000n);
    const accountId = account!.accountId;
    const buy = orderFilled({ accountId, fillId: "gina-1", side: "buy", quantity: 4n, priceMicros: 25_000_000n });
    await producer.write([buy, buy, orderFilled({ accountId, fillId: "gina-2", side: "sell", quantity: 5n, priceMicros: 25_000_000n })]);
    // The next good fill goes through behind the refused one.
    await producer.write([orderFilled({ accountId, fillId: "gina-3", side: "sell", quantity: 1n, priceMicros: 30_000_000n })]);
    await eventually("the good fills applied", async () => (await portfolioOf(accountId)).fillsApplied === 2n);
    await Bun.sleep(500);
    const portfolio = await portfolioOf(accountId);
    expect(portfolio.fillsApplied).toBe(2n);
    // 500,000 − 10,000 + 3,000
    expect(portfolio.cashMinor).toBe(493_000n);
    expect(portfolio.positions.map((p) => [p.symbol, p.quantity])).toEqual([["AAPL", 3n]]);
  });
});

describe("watch", () => {
  test("a change whose notification never came still reaches the watcher, by its own periodic check", async () => {
    const { account } = await open("jude", "j-1", 10_000n);
    const accountId = account!.accountId;
    const seen: PortfolioState[] = [];
    const fiber = Effect.runFork(harness.client.watchPortfolio({ accountId }).pipe(Stream.runForEach((r) => Effect.sync(() => seen.push(r.portfolio!)))));
    await eventually("the first state", async () => seen.length === 1);
    // Changed behind the service's back: no AccountChanged is written (as if the event store lost it).
    const sql = postgres(harness.databaseUrl, { max: 1, onnotice: () => {}, connection: { search_path: "portfolio" } });
    await sql`update accounts set cash_minor = cash_minor - 1, fills_applied = fills_applied + 1 where account_id = ${accountId}::uuid`;
    await sql.end();
    await eventually("the changed state", async () => seen.length === 2, 10_000);
    expect([seen[1]!.cashMinor, seen[1]!.fillsApplied]).toEqual([9_999n, 1n]);
    await Effect.runPromise(Fiber.interrupt(fiber));
  });
});
