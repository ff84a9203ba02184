/**
 * The portfolio service as separate processes on the real PostgreSQL and Redis: fills written
 * through a real outbox reach it over Redis Streams; the process is killed with SIGKILL
 * mid-stream and started again, and every fill is applied exactly once; a second instance
 * shares the work, and a watcher on one instance sees the changes the other applies.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Effect, Stream } from "effect";
import postgres from "postgres";
import { dropRedisKeys, postgresDatabase, startService, type RunningService, type TestDatabase } from "@meridian/kit/testing";
import { createEffectClient } from "@meridian/sdk";
import { createNodeTransport } from "@meridian/sdk/node";
import { Portfolio, RiskProfile, type PortfolioState } from "@meridian/sdk/portfolio";
import { eventually, orderFilled, startFillProducer, type FillProducer } from "./fills-fixture.js";
import { layerTestBus, redisUrl } from "./harness.js";
import { expectedBooks, randomFills } from "./random-fills.js";

const entry = "services/portfolio/src/main.ts";
const keyPrefix = `test:portfolio-e2e:${crypto.randomUUID().slice(0, 8)}:`;
let database: TestDatabase;
let producer: FillProducer;
let sql: postgres.Sql;
const processes: RunningService[] = [];

const start = async () => {
  const service = await startService({
    entry,
    env: {
      ...database.env,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: keyPrefix,
      // No market: positions are valued at their last fill price (prices_stale).
      MERIDIAN_MARKET_URL: "http://127.0.0.1:9",
      // A killed instance's pending fills are taken over after 1.5 s, not 30.
      PORTFOLIO_CLAIM_IDLE_MS: "1500",
      PORTFOLIO_WATCH_RECHECK_MS: "60000",
    },
    startTimeoutMs: 60_000,
  });
  processes.push(service);
  return service;
};

beforeAll(async () => {
  database = await postgresDatabase();
  producer = await startFillProducer(database.env.DATABASE_URL!, layerTestBus(keyPrefix, "trading"));
  sql = postgres(database.env.DATABASE_URL!, { max: 2, onnotice: () => {}, connection: { search_path: "portfolio" } });
}, 60_000);

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  await sql?.end();
  await producer?.dispose();
  await database?.drop();
  await dropRedisKeys(redisUrl, keyPrefix);
}, 60_000);

const initialCashMinor = 5_000_000n;

test("SIGKILL mid-stream, restart, a second instance: every fill applied exactly once, watchers see changes from any instance", async () => {
  const first = await start();
  const clientOf = (service: RunningService) => createEffectClient(Portfolio, { baseUrl: service.httpUrl });
  const accounts: string[] = [];
  for (let i = 0; i < 3; i++) {
    const { account } = await Effect.runPromise(
      clientOf(first).openAccount({ owner: "e2e", initialCashMinor, riskProfile: RiskProfile.BALANCED, idempotencyKey: `e2e-${i}` }),
    );
    accounts.push(account!.accountId);
  }
  const fills = randomFills(accounts, 700, 11);

  // On the wire: Connect JSON as curl sends it, bad input named per field, unknown account 404.
  const post = (method: string, body: unknown) =>
    fetch(`${first.httpUrl}/meridian.portfolio.v1.PortfolioService/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, any> }));
  const bad = await post("OpenAccount", { owner: "", initialCashMinor: "-5", currency: "JPY" });
  expect(bad.status).toBe(400);
  expect(bad.body.code).toBe("invalid_argument");
  const violations = bad.body.details.find((d: any) => d.type === "meridian.common.v1.InvalidArgument").debug.fieldViolations;
  expect(violations.map((v: any) => v.field)).toEqual(["owner", "initial_cash_minor", "currency", "risk_profile", "idempotency_key"]);
  const unknown = await post("GetPortfolio", { accountId: "0193a5e0-7c1a-7b2e-9f00-123456789abc" });
  expect([unknown.status, unknown.body.code]).toEqual([404, "not_found"]);
  const opened = await post("GetPortfolio", { accountId: accounts[0] });
  expect(opened.body.portfolio.cashMinor).toBe(`${initialCashMinor}`);
  // gRPC over HTTP/2.
  const grpc = createEffectClient(Portfolio, { transport: createNodeTransport({ baseUrl: first.grpcUrl, protocol: "grpc" }) });
  const { accounts: listed } = await Effect.runPromise(grpc.listAccounts({ owner: "e2e" }));
  expect(listed.map((a) => a.accountId)).toEqual(accounts);

  // Killed while fills are still being written and applied.
  const writing = producer.write(fills.slice(0, 450), 10);
  await eventually("some fills applied", async () => (await appliedCount()) >= 50);
  first.signal("SIGKILL");
  expect(await first.exited).toBe(128 + 9);
  const appliedAtKill = await appliedCount();
  await writing;
  expect(appliedAtKill).toBeLessThan(450);

  const second = await start();
  const third = await start();
  // Watch an account on one instance while both apply fills.
  const watched = accounts[0]!;
  const seen: PortfolioState[] = [];
  const watcher = Effect.runPromise(
    clientOf(third)
      .watchPortfolio({ accountId: watched })
      .pipe(
        Stream.map((r) => r.portfolio!),
        Stream.tap((state) => Effect.sync(() => seen.push(state))),
        Stream.takeUntil((state) => state.fillsApplied === BigInt(fills.filter((f) => f.accountId === watched).length)),
        Stream.runDrain,
      ),
  );
  await producer.write(fills.slice(450), 100);
  await eventually("every fill applied", async () => (await appliedCount()) >= fills.length, 60_000);
  await watcher;

  expect(await appliedCount()).toBe(fills.length);
  const [ledger] = await sql<{ n: string; distinct: string }[]>`select count(*)::text as n, count(distinct fill_id)::text as distinct from fills`;
  expect(ledger).toEqual({ n: `${fills.length}`, distinct: `${fills.length}` });
  const expected = expectedBooks(fills, initialCashMinor);
  for (const accountId of accounts) {
    const { portfolio } = await Effect.runPromise(clientOf(second).getPortfolio({ accountId }));
    const books = expected.get(accountId)!;
    expect(portfolio!.cashMinor).toBe(books.cashMinor);
    expect(portfolio!.fillsApplied).toBe(BigInt(books.fills));
    expect(Object.fromEntries(portfolio!.positions.map((p) => [p.symbol, p.quantity]))).toEqual(
      Object.fromEntries([...books.quantities].filter(([, q]) => q > 0n)),
    );
    expect(portfolio!.pricesStale).toBe(portfolio!.positions.length > 0);
  }
  // A watch ends cleanly (no error) when its instance shuts down.
  let received = 0;
  const ending = Effect.runPromise(
    clientOf(second)
      .watchPortfolio({ accountId: watched })
      .pipe(Stream.runForEach(() => Effect.sync(() => void received++)), Effect.exit),
  );
  await eventually("the watch's first state", async () => received === 1);
  expect(await second.stop()).toBe(0);
  const ended = await ending;
  expect(ended._tag).toBe("Success");
  // The watcher's states only move forward, and it saw more than the first one.
  expect(seen.length).toBeGreaterThan(1);
  const counts = seen.map((s) => s.fillsApplied);
  expect([...counts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(counts);
}, 180_000);

async function appliedCount(): Promise<number> {
  const [row] = await sql<{ n: string }[]>`select coalesce(sum(fills_applied), 0)::text as n from accounts`;
  return Number(row?.n ?? 0);
}
