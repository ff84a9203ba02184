/**
 * PlaceOrder end to end in distributed mode: the whole platform as separate processes
 * (`platform/test/platform-processes.ts`, the environment of `start:distributed`) on the real
 * PostgreSQL and Redis; the load goes to the gateway (API key auth) → trading over gRPC →
 * PostgreSQL (order, fill, outbox in one transaction) → relay → Redis Streams → portfolio's
 * idempotent consumer. Throughput and latency are the gateway's answers; "applied" waits until
 * portfolio has applied every fill.
 *
 *   bun bench/platform/place-order.ts [--duration 10] [--warmup 3] [--settle 40] [--connections 64] [--accounts 200]
 *                                     [--rates 400,800,1500] [--cold-rate 300] [--cold-duration 10] [--max-calls-in-flight N]
 *
 * First, on the fresh platform (only the accounts opened), an open loop at `--cold-rate` for
 * `--cold-duration` seconds without warm-up, reported second by second: what the first seconds
 * after a deploy look like (`--cold-duration 0`: none).
 *
 * The closed loop warms up for `--settle` seconds, not `--warmup`: the JavaScript engine compiles
 * the hot code in tiers over the first tens of thousands of calls, on helper threads that share
 * the two cores. Measured after a 3 s warm-up, a third of trading's CPU per order was that
 * compiling, and orders/s at saturation 17–32 % lower than after 40 s (3 paired runs,
 * 2026-12-08); the open loops that follow find the platform warm. `--max-calls-in-flight`: every
 * service's MAX_CALLS_IN_FLIGHT (default: none).
 * Closed loop by default: `--connections` callers, each sending its next call when the last one
 * answered (throughput at saturation, and the latency that queueing then gives). `--rates`: after
 * that, one open-loop run per rate on the same platform (calls due at that rate whatever the
 * answers, at most 1024 in flight, latency from when each call was due): the latency the platform
 * gives at a given load.
 *
 * Per load it also reports each hop's JavaScript thread's run-queue delay (runnable, waiting for a
 * CPU) beside its run time: on 2 cores shared by every process, much of a call's latency past the
 * median is that wait (2026-12-08: at 600/s, gateway and trading waited about as long as they ran).
 *
 * Writes bench/platform/results.md (the new run on top, earlier runs kept below it).
 */
import { SQL } from "bun";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { createMeridianClient } from "../../sdk/src/index.js";
import { Gateway } from "../../sdk/src/gateway/index.js";
import { RiskProfile } from "../../sdk/src/portfolio/index.js";
import { percentile, runUnaryLoadProcess } from "../trading/load.js";
import { devApiKey, startPlatform } from "../../platform/test/platform-processes.js";
import { topology } from "../../platform/distributed.js";
import { cpuSecondsOf, mainThreadCpuSecondsOf, mainThreadRunQueueSecondsOf } from "../cpu.js";

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    settle: { type: "string", default: "40" },
    connections: { type: "string", default: "64" },
    accounts: { type: "string", default: "200" },
    rates: { type: "string", default: "" },
    "cold-rate": { type: "string", default: "300" },
    "cold-duration": { type: "string", default: "10" },
    "max-calls-in-flight": { type: "string", default: "" },
  },
});

/**
 * The load of one run: closed loop over `connections`, open loop at `rate`, or the first seconds
 * of the fresh platform at `rate` (no warm-up, reported by second).
 */
type Load =
  | { readonly kind: "closed"; readonly connections: number }
  | { readonly kind: "open"; readonly rate: number }
  | { readonly kind: "cold"; readonly rate: number; readonly durationS: number };
const coldDurationS = Number(args["cold-duration"]);
const loads: Load[] = [
  ...(coldDurationS > 0 ? [{ kind: "cold", rate: Number(args["cold-rate"]), durationS: coldDurationS } as const] : []),
  { kind: "closed", connections: Number(args.connections) },
  ...String(args.rates)
    .split(",")
    .filter((r) => r !== "")
    .map((r): Load => ({ kind: "open", rate: Number(r) })),
];
const openLoopInFlight = 1024;

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
const maxCallsInFlight = args["max-calls-in-flight"];
const platform = await startPlatform({
  env: { GATEWAY_RATE_LIMIT_PER_SECOND: "0", ...(maxCallsInFlight === "" ? {} : { MAX_CALLS_IN_FLIGHT: maxCallsInFlight }) },
});
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
  // Each service's total, and its JavaScript thread's alone (the rest: the runtime's JIT compiler,
  // GC and allocator threads).
  const cpuNow = async () => {
    const byName = new Map<string, number>();
    const mainByName = new Map<string, number>();
    const waitingByName = new Map<string, number>();
    for (const node of topology) {
      const pid = platform.service(node.name).pid;
      byName.set(node.name, cpuSecondsOf(pid) ?? 0);
      mainByName.set(node.name, mainThreadCpuSecondsOf(pid) ?? 0);
      waitingByName.set(node.name, mainThreadRunQueueSecondsOf(pid) ?? NaN);
    }
    const perBackend = new Map((await backends()).map((pid) => [pid, cpuSecondsOf(pid) ?? 0]));
    return { byName, mainByName, waitingByName, at: performance.now(), perBackend };
  };
  const rows: string[] = [];
  const cpuLines: string[] = [];
  const hopLines: string[] = [];
  const waitLines: string[] = [];
  const coldLines: string[] = [];
  // Where the time of a call goes: each hop's own access-log durations (its server's view: from
  // the request read to the answer written) for the measured PlaceOrder calls of one load (the
  // first `warmup` lines, in the order calls ended, are the warm-up's).
  const hops = [
    { name: "gateway", method: "meridian.gateway.v1.GatewayService/PlaceOrder" },
    { name: "trading", method: "meridian.trading.v1.TradingService/PlaceOrder" },
  ];
  const logLength = () => new Map(hops.map((h) => [h.name, platform.service(h.name).logs().length]));
  const hopTimes = (from: Map<string, number>, warmup: number) =>
    hops.map(({ name, method }) => {
      const ms = platform
        .service(name)
        .logs()
        .slice(from.get(name))
        .filter((l) => l.method === method && typeof l.duration_ms === "number")
        .slice(warmup)
        .map((l) => l.duration_ms as number)
        .sort((a, b) => a - b);
      const at = (q: number) => (ms.length === 0 ? NaN : percentile(ms, q));
      return `${name} p50 ${at(0.5).toFixed(1)}, p90 ${at(0.9).toFixed(1)}, p99 ${at(0.99).toFixed(1)} (${ms.length} calls)`;
    });
  let placedSoFar = 0;
  for (const spec of loads) {
    const period =
      spec.kind === "cold"
        ? { warmupS: 0, durationS: spec.durationS }
        : { warmupS: Number(spec.kind === "closed" ? args.settle : args.warmup), durationS: Number(args.duration) };
    // CPU from the end of the warm-up: the measured period's cost, not the JIT compiling of the first seconds.
    const cpuMeasuredFrom = new Promise<Awaited<ReturnType<typeof cpuNow>>>((resolve) => setTimeout(() => resolve(cpuNow()), period.warmupS * 1000));
    const logsBefore = logLength();
    const load = await runUnaryLoadProcess({
      url: `${platform.httpUrl("gateway")}/meridian.gateway.v1.GatewayService/PlaceOrder`,
      headers: auth,
      template: placeOrderTemplate,
      accounts,
      symbols: usdSymbols,
      connections: spec.kind === "closed" ? spec.connections : openLoopInFlight,
      ...(spec.kind === "closed" ? {} : { ratePerSecond: spec.rate }),
      ...period,
      ...(spec.kind === "cold" ? { windowS: 1 } : {}),
    });
    const loadEnded = performance.now();
    const cpuAfter = await cpuNow();
    const cpuBefore = await cpuMeasuredFrom;
    const calls = load.requests;
    const msPerCall = (seconds: number) => ((seconds * 1000) / calls).toFixed(2);
    const cpuRows = [...cpuAfter.byName].map(([name, after]) => {
      const total = after - (cpuBefore.byName.get(name) ?? 0);
      const main = (cpuAfter.mainByName.get(name) ?? 0) - (cpuBefore.mainByName.get(name) ?? 0);
      // The JavaScript thread apart where the helper threads (JIT compiling, mostly) took a tenth or
      // more, in the processes that do the work (0.1 ms per call or more).
      const split = total - main >= 0.1 * total && (total * 1000) / calls >= 0.1;
      return split ? `${name} ${msPerCall(total)} (JS thread ${msPerCall(main)})` : `${name} ${msPerCall(total)}`;
    });
    // How long each hot service's JavaScript thread was runnable but waiting for a CPU, per second of
    // the measured period, next to how long it ran: near or above it, its calls wait their turn.
    const periodS = (cpuAfter.at - cpuBefore.at) / 1000;
    const waits = hops.map(({ name }) => {
      const ran = (cpuAfter.mainByName.get(name) ?? 0) - (cpuBefore.mainByName.get(name) ?? 0);
      const waited = (cpuAfter.waitingByName.get(name) ?? NaN) - (cpuBefore.waitingByName.get(name) ?? NaN);
      return `${name} waited ${(waited / periodS).toFixed(2)}, ran ${(ran / periodS).toFixed(2)}`;
    });
    let postgresS = 0;
    for (const [pid, after] of cpuAfter.perBackend) postgresS += after - (cpuBefore.perBackend.get(pid) ?? 0);
    cpuRows.push(`PostgreSQL backends ${msPerCall(postgresS)}`);
    // The generator's CPU is its whole run's: over all its calls, warm-up included.
    const allCalls = load.requests + load.warmupRequests;
    if (load.generatorCpuS !== undefined) cpuRows.push(`load generator ${((load.generatorCpuS * 1000) / allCalls).toFixed(2)}`);
    // Every accepted order filled once; wait until portfolio has applied them all.
    placedSoFar += load.ok + load.warmupOk;
    const expected = BigInt(placedSoFar);
    let applied = 0n;
    for (const deadline = Date.now() + 120_000; Date.now() < deadline; await Bun.sleep(250)) {
      applied = 0n;
      for (const accountId of accounts) {
        const { portfolio } = await gateway.getPortfolio({ accountId }, { headers: auth });
        applied += portfolio?.fillsApplied ?? 0n;
      }
      if (applied >= expected) break;
    }
    const drainS = (performance.now() - loadEnded) / 1000;
    const what =
      spec.kind === "closed"
        ? `closed loop, ${spec.connections} connections`
        : spec.kind === "cold"
          ? `fresh platform, first ${spec.durationS} s at ${spec.rate}/s offered`
          : `open loop, ${spec.rate}/s offered`;
    if (spec.kind === "cold") {
      for (const w of load.windows ?? []) {
        coldLines.push(`| ${w.fromS}–${w.fromS + 1} s | ${w.calls} | ${w.p50Ms.toFixed(1)} | ${w.p99Ms.toFixed(1)} | ${w.maxMs.toFixed(1)} |`);
      }
    }
    rows.push(
      `| ${what} | ${load.okPerSecond.toFixed(0)} | ${load.p50Ms.toFixed(1)} | ${load.p90Ms.toFixed(1)} | ${load.p99Ms.toFixed(1)} | ${load.maxMs.toFixed(1)} | ${JSON.stringify(load.errors)} | ${applied} (≥ ${expected}) | ${drainS.toFixed(1)} |`,
    );
    cpuLines.push(`- ${what}: ${cpuRows.join(", ")}.`);
    hopLines.push(`- ${what}: ${hopTimes(logsBefore, load.warmupRequests).join("; ")}.`);
    waitLines.push(`- ${what}: ${waits.join("; ")}.`);
    console.log(rows.at(-1));
  }
  const lines = [
    "# PlaceOrder end to end, distributed (gateway → trading → PostgreSQL + outbox → Redis Streams → portfolio)",
    "",
    `Taken ${new Date().toISOString()} on ${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}), Bun ${Bun.version}; load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(" ")}.`,
    "",
    "`bun bench/platform/place-order.ts`: all seven services as separate processes (gRPC between them) on the real",
    "PostgreSQL and Redis; Connect JSON PlaceOrder calls to the gateway over keep-alive HTTP/1.1",
    `(API key), each a market buy of one share with its own idempotency key over ${accounts.length} accounts;`,
    `each run ${args.duration} s measured after ${args.warmup} s of warm-up, but the closed loop, after ${args.settle} s (the JIT compiles`,
    "the hot code meanwhile; the open loops come after it). Closed loop: each connection sends its next call when the last one",
    `answered. Open loop: calls due at the offered rate whatever the answers (at most ${openLoopInFlight} in flight), latency`,
    "counted from when a call was due. Target of issue 7: ≥ 1,500 orders/s, p99 ≤ 25 ms.",
    ...(maxCallsInFlight === "" ? [] : [`Every service with MAX_CALLS_IN_FLIGHT=${maxCallsInFlight}.`]),
    ...(coldLines.length === 0 ? [] : ["Before them all, the fresh platform (only the accounts opened) takes an open loop without warm-up (first row)."]),
    "",
    "| load | orders/s | p50 ms | p90 ms | p99 ms | max ms | errors | fills applied by portfolio (cumulative; at least the calls answered) | drain after load, s |",
    "|---|---|---|---|---|---|---|---|---|",
    ...rows,
    "",
    ...(coldLines.length === 0
      ? []
      : [
          `The fresh platform's first seconds (${args["cold-rate"]}/s offered, no warm-up; latency by the second each call was due):`,
          "",
          "| second | calls | p50 ms | p99 ms | max ms |",
          "|---|---|---|---|---|",
          ...coldLines,
          "",
        ]),
    "CPU ms per call (the measured period's CPU over its calls; Redis not counted, it is shared; in parentheses, where the runtime's",
    "helper threads (JIT compiler, GC) took a tenth or more of a process's CPU, its JavaScript thread's share):",
    ...cpuLines,
    "",
    "Server-side ms of each hop (its access log's duration_ms, measured calls; the table's latency adds what is",
    "before the gateway's handler: the load generator, the kernel and the gateway's queue):",
    ...hopLines,
    "",
    "Waiting for a CPU: each hop's JavaScript thread, seconds per second of the measured period runnable but waiting",
    "(the kernel's run-queue delay) and running; a wait near the run time means its calls queue for the cores:",
    ...waitLines,
    "",
  ];
  // The new run on top; the earlier runs (and their readings) stay below it.
  const resultsUrl = new URL("./results.md", import.meta.url);
  const earlier = (await Bun.file(resultsUrl).exists()) ? await Bun.file(resultsUrl).text() : "";
  lines.push(earlier.replace(/^# .*\n/, "## The run before this one (what the readings below call \"the run above\", when they follow it)\n"));
  await Bun.write(new URL("./results.md", import.meta.url), lines.join("\n"));
  console.log(lines.join("\n"));
} finally {
  await platform.stop();
}
