/**
 * Trading's placements across a PostgreSQL outage: trading reaches its database through a proxy
 * the test cuts (every connection reset, new ones refused, as in a server restart) while orders
 * are being placed. A placement in flight then fails as `unavailable` (never `internal`, never a
 * hang), nothing is half-written, and the caller's retry with the same idempotency key gives
 * exactly one order per key; every fill reaches portfolio exactly once.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Effect, Exit } from "effect";
import { startTcpProxy, type TcpProxy } from "@meridian/kit/testing";
import { Portfolio } from "@meridian/sdk/portfolio";
import { OrderSide, OrderStatus, OrderType, Trading } from "@meridian/sdk/trading";
import { run, startTrading, until, type TradingUnderTest } from "./in-process.js";

let t: TradingUnderTest;
let proxy: TcpProxy;

beforeAll(async () => {
  t = await startTrading({
    tradingDatabaseUrl: (url) => {
      const proxied = new URL(url);
      proxied.hostname = "127.0.0.1";
      proxied.port = String(proxy.port);
      return proxied.toString();
    },
  });
  await t.ingest("AAPL", [["2024-01-05", 99_500_000n, 100_500_000n, 99_000_000n, 100_000_000n]]);
}, 120_000);

afterAll(async () => {
  await t?.dispose();
  await proxy?.close();
}, 30_000);

// The proxy must exist before trading's pool is made: started at module load, pointed at the real server.
const target = new URL(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test");
proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));

test("orders placed while PostgreSQL restarts: unavailable then retried, one order per key, every fill applied once", async () => {
  const accounts = await Promise.all(Array.from({ length: 4 }, () => t.openAccount(10_000_000n)));
  const perAccount = 25;
  const requests = accounts.flatMap((accountId) =>
    Array.from({ length: perAccount }, (_, i) => ({
      accountId,
      symbol: "AAPL",
      side: OrderSide.BUY,
      quantity: 1n,
      type: OrderType.MARKET,
      limitPriceMicros: 0n,
      idempotencyKey: `outage-${i}`,
    })),
  );
  // No client policies: each refusal is what trading itself answered.
  const trading = t.clientOf(Trading, { policy: false });
  const failures = new Map<string, number>();
  let next = 0;
  let placed = 0;
  const place = async (request: (typeof requests)[number]) => {
    const exit = await Effect.runPromiseExit(trading.placeOrder(request, { timeoutMs: 10_000 }));
    if (Exit.isSuccess(exit)) return true;
    const error = exit.cause.reasons.map((r) => ("error" in r ? (r.error as { _tag: string })._tag : "defect")).join(",");
    failures.set(error, (failures.get(error) ?? 0) + 1);
    return false;
  };
  const failed: Array<(typeof requests)[number]> = [];
  const worker = async () => {
    while (next < requests.length) {
      const request = requests[next++]!;
      if (await place(request)) placed += 1;
      else failed.push(request);
    }
  };
  const workers = Promise.all(Array.from({ length: 8 }, worker));
  await until(() => placed >= 20);
  proxy.cut();
  await Bun.sleep(700);
  proxy.restore();
  await workers;

  // Some placements met the outage, and each failed as a retryable refusal: never internal, never a hang.
  expect(failed.length).toBeGreaterThan(0);
  for (const tag of failures.keys()) expect(tag).toBe("Unavailable");

  // The caller retries what failed, with the same keys, until each is placed.
  for (const deadline = Date.now() + 30_000; failed.length > 0; ) {
    if (Date.now() > deadline) throw new Error(`${failed.length} placements still failing: ${JSON.stringify([...failures])}`);
    const request = failed.shift()!;
    if (!(await place(request))) {
      failed.push(request);
      await Bun.sleep(100);
    }
  }

  const portfolio = t.clientOf(Portfolio);
  for (const accountId of accounts) {
    const { orders } = await run(t.client.listOrders({ accountId, page: { pageSize: 500 } }));
    expect(orders.length).toBe(perAccount);
    expect(new Set(orders.map((o) => o.idempotencyKey)).size).toBe(perAccount);
    expect(orders.every((o) => o.status === OrderStatus.FILLED)).toBe(true);
    const spent = orders.reduce((sum, o) => sum + o.fills.reduce((s, f) => s + f.grossAmountMinor + f.feeMinor, 0n), 0n);
    await until(async () => (await run(portfolio.getPortfolio({ accountId }))).portfolio!.fillsApplied === BigInt(perAccount), 30_000);
    const state = (await run(portfolio.getPortfolio({ accountId }))).portfolio!;
    expect(state.cashMinor).toBe(10_000_000n - spent);
    expect(state.positions).toEqual([expect.objectContaining({ symbol: "AAPL", quantity: BigInt(perAccount) })]);
  }
  console.log(`placements refused during the outage: ${JSON.stringify(Object.fromEntries(failures))}`);
}, 120_000);
