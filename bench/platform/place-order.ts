/**
 * PlaceOrder end to end in distributed mode: the whole platform as separate processes
 * (`platform/test/platform-processes.ts`, the environment of `start:distributed`) on the real
 * PostgreSQL and Redis; the load goes to the gateway (API key auth) → trading over gRPC →
 * PostgreSQL (order, fill, outbox in one transaction) → relay → Redis Streams → portfolio's
 * idempotent consumer. Throughput and latency are the gateway's answers; "applied" waits until
 * portfolio has applied every fill.
 *
 *   bun bench/platform/place-order.ts [--duration 10] [--warmup 3] [--connections 64] [--accounts 200]
 *
 * Writes bench/platform/results.md.
 */
import { SQL } from "bun";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { createMeridianClient } from "../../sdk/src/index.js";
import { Gateway } from "../../sdk/src/gateway/index.js";
import { RiskProfile } from "../../sdk/src/portfolio/index.js";
import { runUnaryLoadProcess } from "../trading/load.js";
import { devApiKey, startPlatform } from "../../platform/test/platform-processes.js";
import { topology } from "../../platform/distributed.js";
import { cpuSecondsOf } from "../cpu.js";

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    connections: { type: "string", default: "64" },
    accounts: { type: "string", default: "200" },
  },
});

/** USD securities of the universe's seed: what USD accounts may trade. */
const usdSymbols = ["AAPL", "MSFT", "NVDA", "JNJ", "PFE", "JPM", "BAC", "AMZN", "TSLA", "HD", "PG", "KO", "WMT", "XOM", "CVX", "CAT"];

/** A market buy of one share, its placeholders filled in per call by the load generator. */
const placeOrderTemplate = JSON.stringify({
  accountId: "$ACCOUNT",
  symbol: "$SYMBOL",
  side: "ORDER_SIDE_BUY",
  type: "ORDER_TYPE_MARKET",
  quantity: "1",
  idempotencyKey: "$KEY",
});

// One key drives the whole load: its rate limit is off, as for a trusted load test.
const platform = await startPlatform({ env: { GATEWAY_RATE_LIMIT_PER_SECOND: "0" } });
const auth = { authorization: `Bearer ${devApiKey}` };
try {
  const gateway = createMeridianClient(Gateway, { baseUrl: platform.httpUrl("gateway"), policy: { timeoutMs: 30_000 } });
  const accounts: string[] = [];
  for (let i = 0; i < Number(args.accounts); i++) {
    const { account } = await gateway.openAccount(
      { initialCashMinor: 1_000_000_000n, currency: "USD", riskProfile: RiskProfile.AGGRESSIVE, idempotencyKey: `bench-${i}` },
      { headers: auth },
    );
    accounts.push(account!.accountId);
  }
  // CPU by process around the load (warm-up included): each service, and this database's PostgreSQL backends.
  const pg = new SQL(platform.databaseUrl, { max: 1 });
  const backends = async () =>
    ((await pg`select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`) as Array<{ pid: number }>).map(
      (r) => r.pid,
    );
  const cpuNow = async () => {
    const byName = new Map<string, number>();
    for (const node of topology) byName.set(node.name, cpuSecondsOf(platform.service(node.name).pid) ?? 0);
    const perBackend = new Map((await backends()).map((pid) => [pid, cpuSecondsOf(pid) ?? 0]));
    return { byName, perBackend };
  };
  const cpuBefore = await cpuNow();
  const load = await runUnaryLoadProcess({
    url: `${platform.httpUrl("gateway")}/meridian.gateway.v1.GatewayService/PlaceOrder`,
    headers: auth,
    template: placeOrderTemplate,
    accounts,
    symbols: usdSymbols,
    connections: Number(args.connections),
    warmupS: Number(args.warmup),
    durationS: Number(args.duration),
  });
  const loadEnded = performance.now();
  const cpuAfter = await cpuNow();
  await pg.close();
  const calls = load.ok + load.warmupRequests + Object.values(load.errors).reduce((a, b) => a + b, 0);
  const msPerCall = (seconds: number) => ((seconds * 1000) / calls).toFixed(2);
  const cpuRows = [...cpuAfter.byName].map(([name, after]) => `${name} ${msPerCall(after - (cpuBefore.byName.get(name) ?? 0))}`);
  let postgresS = 0;
  for (const [pid, after] of cpuAfter.perBackend) postgresS += after - (cpuBefore.perBackend.get(pid) ?? 0);
  cpuRows.push(`PostgreSQL backends ${msPerCall(postgresS)}`);
  if (load.generatorCpuS !== undefined) cpuRows.push(`load generator ${msPerCall(load.generatorCpuS)}`);
  // Every accepted order filled once; wait until portfolio has applied them all.
  const placed = load.ok + load.warmupRequests; // warm-up calls are successes too, unless errors say otherwise
  let applied = 0n;
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await Bun.sleep(250)) {
    applied = 0n;
    for (const accountId of accounts) {
      const { portfolio } = await gateway.getPortfolio({ accountId }, { headers: auth });
      applied += portfolio?.fillsApplied ?? 0n;
    }
    if (applied >= BigInt(placed - Object.values(load.errors).reduce((a, b) => a + b, 0))) break;
  }
  const drainS = (performance.now() - loadEnded) / 1000;
  const lines = [
    "# PlaceOrder end to end, distributed (gateway → trading → PostgreSQL + outbox → Redis Streams → portfolio)",
    "",
    `Taken ${new Date().toISOString()} on ${cpus().length} cores, Bun ${Bun.version}; load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(" ")}.`,
    "",
    "`bun bench/platform/place-order.ts`: all seven services as separate processes (gRPC between them) on the real",
    `PostgreSQL and Redis; ${args.connections} keep-alive HTTP/1.1 connections send Connect JSON PlaceOrder calls to the gateway`,
    `(API key), each a market buy of one share with its own idempotency key over ${accounts.length} accounts;`,
    `${args.warmup} s warm-up, ${args.duration} s measured. Target of issue 7: ≥ 1,500 orders/s, p99 ≤ 25 ms.`,
    "",
    "| orders/s | p50 ms | p90 ms | p99 ms | max ms | errors | fills applied by portfolio | drain after load, s |",
    "|---|---|---|---|---|---|---|---|",
    `| ${load.okPerSecond.toFixed(0)} | ${load.p50Ms.toFixed(1)} | ${load.p90Ms.toFixed(1)} | ${load.p99Ms.toFixed(1)} | ${load.maxMs.toFixed(1)} | ${JSON.stringify(load.errors)} | ${applied} | ${drainS.toFixed(1)} |`,
    "",
    `CPU ms per call (warm-up and measured calls; Redis not counted, it is shared): ${cpuRows.join(", ")}.`,
    "",
  ];
  await Bun.write(new URL("./results.md", import.meta.url), lines.join("\n"));
  console.log(lines.join("\n"));
} finally {
  await platform.stop();
}
