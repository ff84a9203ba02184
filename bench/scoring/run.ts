/**
 * `bun run bench/scoring/run.ts`: BatchScore(100) latency, with scoring's score
 * cache cold and warm. universe, market and scoring run as three processes
 * (as in production: PostgreSQL, a private redis-server, Connect between them);
 * this process calls scoring's BatchScore over Connect binary on keep-alive
 * HTTP/1.1, one call in flight, with the SDK's Promise client, policies off (bench/client's "bare").
 *
 *   cold  before each call the 100 score entries are deleted from Redis: every symbol costs a
 *         GetBars to market (~280 bars) and the score computation; market's regime cache stays warm
 *   warm  the entries are cached: one GetCurrentRegime to market, 100 cache reads, re-weighing
 *
 * The universe ships 42 securities; the bench adds 58 (BENCH00…BENCH57, bars derived from
 * the shipped ones through IngestBars) so a batch has 100 distinct scorable symbols.
 * Rounds interleave cold and warm; p50/p99 are over all rounds' calls pooled, server CPU per
 * call (scoring, market) the least disturbed round. Table to stdout and bench/scoring/results.md.
 *
 *   bun run bench/scoring/run.ts [--rounds 3] [--cold 40] [--warm 200]
 */
import { writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { RedisClient } from "bun";
import { createFetchTransport, createMeridianClient } from "../../sdk/src/index.js";
import { Market } from "../../sdk/src/market/index.js";
import { Scoring } from "../../sdk/src/scoring/index.js";
import { Sector, Universe } from "../../sdk/src/universe/index.js";
import { startPlatform } from "../../services/scoring/test/processes.js";
import { cpuSecondsOf } from "../cpu.js";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    cold: { type: "string", default: "40" },
    warm: { type: "string", default: "200" },
  },
});
const rounds = Number(args.rounds);
const coldCalls = Number(args.cold);
const warmCalls = Number(args.warm);
const batchSize = 100;

interface Sample {
  readonly latenciesMs: number[];
  readonly scoringCpuMsPerCall: number | undefined;
  readonly marketCpuMsPerCall: number | undefined;
}

const platform = await startPlatform();
try {
  const transport = (baseUrl: string) => createFetchTransport({ baseUrl, useBinaryFormat: true });
  const scoring = createMeridianClient(Scoring, { transport: transport(platform.scoring.httpUrl), policy: false });
  const symbols = await hundredSymbols(platform.universe.httpUrl, platform.market.httpUrl);
  const redis = new RedisClient(platform.redisUrl);
  const dropCachedScores = async () => {
    await redis.send("DEL", symbols.map((s) => `cache:scoring:score:${s}`));
  };
  const call = () => scoring.batchScore({ symbols });
  const first = await call();
  if (first.scores.length !== batchSize || first.scores.some((s, i) => s.symbol !== symbols[i])) throw new Error("wrong answer");

  const samples: Record<"cold" | "warm", Sample[]> = { cold: [], warm: [] };
  for (let round = 0; round < rounds; round++) {
    samples.cold.push(await measure(coldCalls, call, dropCachedScores));
    process.stderr.write(".");
    await call(); // fill the cache
    samples.warm.push(await measure(warmCalls, call));
    process.stderr.write(".");
  }
  process.stderr.write("\n");
  redis.close();
  const report = render(samples);
  console.log(report);
  writeFileSync(join(import.meta.dir, "results.md"), report);
} finally {
  await platform.stop();
}

/** `calls` sequential calls, each after `before` (not timed); CPU of both servers around them. */
async function measure(calls: number, call: () => Promise<unknown>, before?: () => Promise<void>): Promise<Sample> {
  for (let i = 0; i < Math.min(10, calls); i++) {
    await before?.();
    await call(); // warm-up of this mode
  }
  const latenciesMs: number[] = [];
  const scoringBefore = cpuSecondsOf(platform.scoring.pid);
  const marketBefore = cpuSecondsOf(platform.market.pid);
  for (let i = 0; i < calls; i++) {
    await before?.();
    const started = performance.now();
    await call();
    latenciesMs.push(performance.now() - started);
  }
  const perCall = (before: number | undefined, after: number | undefined) =>
    before === undefined || after === undefined ? undefined : ((after - before) * 1000) / calls;
  return {
    latenciesMs,
    scoringCpuMsPerCall: perCall(scoringBefore, cpuSecondsOf(platform.scoring.pid)),
    marketCpuMsPerCall: perCall(marketBefore, cpuSecondsOf(platform.market.pid)),
  };
}

/** The shipped securities plus enough BENCHnn ones (in universe, with bars in market) to make 100. */
async function hundredSymbols(universeUrl: string, marketUrl: string): Promise<string[]> {
  const universe = createMeridianClient(Universe, { transport: transport(universeUrl) });
  const market = createMeridianClient(Market, { transport: transport(marketUrl) });
  const { securities } = await universe.listSecurities({ active: true, page: { pageSize: 500 } });
  const shipped = securities.map((s) => s.symbol);
  const extra = Array.from({ length: batchSize - shipped.length }, (_, i) => `BENCH${String(i).padStart(2, "0")}`);
  for (const [i, symbol] of extra.entries()) {
    const source = shipped[i % shipped.length]!;
    await universe.upsertSecurity({ security: { symbol, name: `Bench ${i}`, sector: Sector.INDUSTRIALS, currency: "USD", active: true } });
    const { bars } = await market.getBars({ symbol: source });
    // The source's closes, bent by a slow wave of its own so no two series are the same.
    const derived = bars.map((bar, day) => {
      const price = BigInt(Math.max(1, Math.round(Number(bar.closeMicros) * (1 + 0.1 * Math.sin(day / (20 + i))))));
      return { date: bar.date, openMicros: price, highMicros: price, lowMicros: price, closeMicros: price, volume: bar.volume };
    });
    await market.ingestBars({ symbol, bars: derived });
  }
  return [...shipped, ...extra];
}

function transport(baseUrl: string) {
  return createFetchTransport({ baseUrl, useBinaryFormat: true });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function render(samples: Record<"cold" | "warm", Sample[]>): string {
  const row = (mode: "cold" | "warm") => {
    const all = samples[mode].flatMap((s) => s.latenciesMs).sort((a, b) => a - b);
    const least = (pick: (s: Sample) => number | undefined) => {
      const values = samples[mode].map(pick).filter((v): v is number => v !== undefined);
      return values.length === 0 ? "–" : Math.min(...values).toFixed(2);
    };
    return `| ${mode} | ${all.length} | ${percentile(all, 0.5).toFixed(2)} | ${percentile(all, 0.99).toFixed(2)} | ${least((s) => s.scoringCpuMsPerCall)} | ${least((s) => s.marketCpuMsPerCall)} |`;
  };
  const [load1] = loadavg();
  return [
    "# Scoring bench: BatchScore(100)",
    "",
    `${new Date().toISOString()} · Bun ${Bun.version} · ${availableParallelism()} × ${cpus()[0]?.model ?? "cpu"} · load ${load1?.toFixed(2)}`,
    `universe, market and scoring as three processes (PostgreSQL, a private redis-server, Connect binary between them); ${rounds} rounds, cold and warm interleaved.`,
    "Calls: BatchScore of 100 distinct symbols over Connect binary, keep-alive HTTP/1.1 (fetch), one in flight, SDK client with policies off.",
    "",
    "| cache | calls | p50 ms | p99 ms | scoring CPU ms/call | market CPU ms/call |",
    "|---|---|---|---|---|---|",
    row("cold"),
    row("warm"),
    "",
    "cold: the 100 score entries deleted from Redis before each call (100 GetBars of ~280 bars each, at most 16 in flight, and 100 score computations); market's regime cache stays warm.",
    "warm: one GetCurrentRegime to market, then 100 Redis reads and the re-weighing.",
    "",
  ].join("\n");
}
