/**
 * PlaceOrder throughput and latency with trading as a real process on the real PostgreSQL and
 * Redis, its downstreams (universe, market, portfolio) real processes too, as
 * `start:distributed` runs them. Each call is a market buy of one share with its own
 * idempotency key, spread over many accounts and symbols; every fill goes through the outbox
 * and the bus to portfolio, and the bench waits until portfolio has applied them all.
 *
 *   bun bench/trading/run.ts [--duration 10] [--warmup 3] [--connections 8,64] [--accounts 200] [--rounds 1] [--profile]
 *
 * Writes bench/trading/results.md.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { create } from "@bufbuild/protobuf";
import { Effect } from "effect";
import { SQL } from "bun";
import { postgresDatabase } from "@meridian/kit/testing";
import { createEffectClient } from "../../sdk/src/index.js";
import { BarSchema, Market } from "../../sdk/src/market/index.js";
import { Portfolio, RiskProfile } from "../../sdk/src/portfolio/index.js";
import { runUnaryLoadProcess, type UnaryLoadResult } from "./load.js";
import { startServiceProcess, type ServiceProcess } from "./processes.js";
import { writeResults, type Round } from "./report.js";

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    connections: { type: "string", default: "8,64" },
    accounts: { type: "string", default: "200" },
    rounds: { type: "string", default: "1" },
    // Writes trading's CPU profile (markdown) into the round's log folder.
    profile: { type: "boolean", default: false },
  },
});
const durationS = Number(args.duration);
const warmupS = Number(args.warmup);
/** One or more connection counts ("8,64"): each is measured in its own rounds. */
const connectionCounts = String(args.connections).split(",").map(Number);
const accountCount = Number(args.accounts);
const rounds = Number(args.rounds);

/** USD securities of the universe's seed: what the accounts (USD) may trade. */
const symbols = ["AAPL", "MSFT", "NVDA", "ORCL", "JNJ", "PFE", "UNH", "JPM", "BAC", "GS", "AMZN", "TSLA", "HD", "PG", "KO", "WMT", "XOM", "CVX", "CAT", "GE"];

/** A market buy of one share: `$ACCOUNT`, `$SYMBOL`, `$KEY` filled in per call by the generator. */
export const placeOrderTemplate = JSON.stringify({
  accountId: "$ACCOUNT",
  symbol: "$SYMBOL",
  side: "ORDER_SIDE_BUY",
  type: "ORDER_TYPE_MARKET",
  quantity: "1",
  idempotencyKey: "$KEY",
});

async function oneRound(round: number, connections: number): Promise<Round> {
  const database = await postgresDatabase();
  const logDir = await mkdtemp(join(tmpdir(), "bench-trading-"));
  const keyPrefix = `bench-trading-${crypto.randomUUID().slice(0, 8)}:`;
  const common = { ...definedOnly(database.env), REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379", REDIS_KEY_PREFIX: keyPrefix };
  const started: ServiceProcess[] = [];
  const sql = new SQL(database.env.DATABASE_URL!);
  try {
    const universe = await startServiceProcess("universe", common, logDir);
    started.push(universe);
    const market = await startServiceProcess("market", { ...common, MARKET_SEED: "off", MERIDIAN_UNIVERSE_URL: universe.httpUrl }, logDir);
    started.push(market);
    const portfolio = await startServiceProcess("portfolio", { ...common, MERIDIAN_MARKET_URL: market.httpUrl }, logDir);
    started.push(portfolio);
    const trading = await startServiceProcess(
      "trading",
      { ...common, MERIDIAN_UNIVERSE_URL: universe.httpUrl, MERIDIAN_PORTFOLIO_URL: portfolio.httpUrl, MERIDIAN_MARKET_URL: market.httpUrl },
      logDir,
      args.profile ? ["--cpu-prof-md", `--cpu-prof-dir=${logDir}`] : [],
    );
    started.push(trading);

    const marketClient = createEffectClient(Market, { baseUrl: market.httpUrl });
    for (const symbol of symbols) {
      const close = 50_000_000n + BigInt(symbol.charCodeAt(0)) * 1_000_000n;
      const bar = (date: string) => create(BarSchema, { date, openMicros: close, highMicros: close, lowMicros: close, closeMicros: close, volume: 1_000n });
      await Effect.runPromise(marketClient.ingestBars({ symbol, bars: [bar("2025-06-02"), bar("2025-06-03")] }));
    }
    const portfolioClient = createEffectClient(Portfolio, { baseUrl: portfolio.httpUrl });
    const accounts = await Effect.runPromise(
      Effect.forEach(
        Array.from({ length: accountCount }, (_, i) => i),
        (i) =>
          Effect.map(
            portfolioClient.openAccount({ owner: `bench-${i}`, initialCashMinor: 1_000_000_000_000n, currency: "USD", riskProfile: RiskProfile.BALANCED, idempotencyKey: `bench-${i}` }),
            (r) => r.account!.accountId,
          ),
        { concurrency: 16 },
      ),
    );

    const cpuBefore = started.map((s) => s.cpuSeconds() ?? 0);
    const load: UnaryLoadResult & { generatorCpuS?: number } = await runUnaryLoadProcess({
      url: `${trading.httpUrl}/meridian.trading.v1.TradingService/PlaceOrder`,
      template: placeOrderTemplate,
      accounts,
      symbols,
      connections,
      warmupS,
      durationS,
    });
    const loadEndedAt = performance.now();
    const cpuUsed = started.map((s, i) => (s.cpuSeconds() ?? 0) - cpuBefore[i]!);

    // Every fill committed must reach portfolio: wait until it has applied as many as trading made.
    const [{ fills }] = (await sql`select count(*)::int as fills from trading.fills`) as [{ fills: number }];
    let applied = 0;
    for (const deadline = Date.now() + 120_000; Date.now() < deadline; await Bun.sleep(100)) {
      [{ applied }] = (await sql`
        select count(*)::int as applied from portfolio.meridian_processed_events where consumer_group = 'portfolio'`) as [{ applied: number }];
      if (applied >= fills) break;
    }
    const drainS = (performance.now() - loadEndedAt) / 1000;
    const totalCalls = load.requests + load.warmupRequests;
    return {
      round,
      connections,
      load,
      fills,
      applied,
      drainS,
      cpuPerCallMs: Object.fromEntries(started.map((s, i) => [s.name, (cpuUsed[i]! / Math.max(1, totalCalls)) * 1000])),
      generatorCpuS: load.generatorCpuS,
      logDir,
    };
  } finally {
    await sql.close();
    for (const service of started.reverse()) await service.stop();
    await database.drop();
  }
}

function definedOnly(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

const results: Round[] = [];
for (const connections of connectionCounts) {
  for (let round = 1; round <= rounds; round++) {
    const result = await oneRound(round, connections);
    console.log(JSON.stringify({ round, connections, okPerSecond: result.load.okPerSecond, p50Ms: result.load.p50Ms, p99Ms: result.load.p99Ms, errors: result.load.errors, fills: result.fills, applied: result.applied, drainS: result.drainS }));
    results.push(result);
  }
}
await writeResults(results, { durationS, warmupS, accounts: accountCount, symbols: symbols.length });
process.exit(0);
