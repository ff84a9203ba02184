/**
 * bench/trading/results.md: the round with the median throughput, every round's numbers, and
 * the machine they were taken on.
 */
import { cpus } from "node:os";
import { join } from "node:path";
import type { UnaryLoadResult } from "./load.js";

/** One measured round. */
export interface Round {
  readonly round: number;
  /** Concurrent calls the generator kept in flight. */
  readonly connections: number;
  readonly load: UnaryLoadResult;
  /** Fills trading committed (warm-up included). */
  readonly fills: number;
  /** Fills portfolio had applied when the bench stopped waiting. */
  readonly applied: number;
  /** Seconds from the end of the load until portfolio had applied every fill. */
  readonly drainS: number;
  /** CPU milliseconds per PlaceOrder call, per service process. */
  readonly cpuPerCallMs: Readonly<Record<string, number>>;
  readonly generatorCpuS: number | undefined;
  readonly logDir: string;
}

/** Writes the report. */
export async function writeResults(
  rounds: ReadonlyArray<Round>,
  setup: { durationS: number; warmupS: number; accounts: number; symbols: number },
): Promise<void> {
  // The median round by throughput, per connection count.
  const medians = new Set<Round>();
  for (const connections of new Set(rounds.map((r) => r.connections))) {
    const sorted = rounds.filter((r) => r.connections === connections).sort((a, b) => a.load.okPerSecond - b.load.okPerSecond);
    medians.add(sorted[Math.floor(sorted.length / 2)]!);
  }
  const loadAverage = (await Bun.file("/proc/loadavg").text().catch(() => "")).split(" ").slice(0, 3).join(" ");
  const f = (n: number, digits = 1) => n.toFixed(digits);
  const lines = [
    "# PlaceOrder benchmark (trading)",
    "",
    `Taken ${new Date().toISOString()} on ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), Bun ${Bun.version}; load average at the end: ${loadAverage}.`,
    "",
    "`bun bench/trading/run.ts`: universe, market, portfolio and trading each as its own process",
    "(`services/<name>/src/main.ts`, access log on, to a file) on the real PostgreSQL (a fresh database)",
    "and Redis; trading calls universe and portfolio over Connect and market over Connect. The load",
    "generator (its own process, `bench/trading/load.ts`) keeps N keep-alive HTTP/1.1 connections",
    "busy with Connect JSON `PlaceOrder` calls, each a market buy of one share with a fresh idempotency key,",
    `over ${setup.accounts} accounts and ${setup.symbols} symbols; ${setup.warmupS} s warm-up, then ${setup.durationS} s measured.`,
    "Each call: validation, the security (cached), the quote (cached, dropped on BarsIngested), then one",
    "statement, a transaction of its own, shared with the placements waiting with it (up to 32, 4 statements",
    "at once): `place_check` (the account's lock, the key, the funds), the order, its fill, the ledger, and",
    "OrderPlaced + OrderFilled in the outbox, for each. (An account's first order here asks",
    "the database first for an earlier order with the key and the account's facts.)",
    "After the load the bench waits until portfolio has applied every fill (outbox → relay → Redis",
    "Streams → portfolio's idempotent consumer).",
    "",
    "Target of issue 7: ≥ 1,500 orders/s, p99 ≤ 25 ms (end to end through the gateway; this is trading alone).",
    "",
    "| connections | round | orders/s | p50 ms | p90 ms | p99 ms | max ms | errors | fills | applied by portfolio | drain after load, s | CPU ms/call (trading, market, portfolio, universe) |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rounds.map((r) =>
      [
        String(r.connections),
        medians.has(r) ? `**${r.round}** (median)` : String(r.round),
        f(r.load.okPerSecond, 0),
        f(r.load.p50Ms),
        f(r.load.p90Ms),
        f(r.load.p99Ms),
        f(r.load.maxMs),
        Object.entries(r.load.errors).map(([code, n]) => `${code}: ${n}`).join(", ") || "0",
        String(r.fills),
        String(r.applied),
        f(r.drainS),
        ["trading", "market", "portfolio", "universe"].map((s) => f(r.cpuPerCallMs[s] ?? 0, 2)).join(" / "),
      ].join(" | ").replace(/^/, "| ").concat(" |"),
    ),
    "",
  ];
  await Bun.write(join(import.meta.dir, "results.md"), `${lines.join("\n")}\n`);
}
