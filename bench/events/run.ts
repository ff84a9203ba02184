/**
 * `bun run bench/events/run.ts`: events end to end (outbox insert → relay → consumer applied:
 * events/s and lag p50/p99) on Redis Streams and on the in-process bus, and cache hit latency
 * against a bare redis GET, in one run. Prints markdown and writes bench/events/results.md.
 * See bench/README.md ("Events and cache").
 *
 *   bun run bench/events/run.ts [--events 30000] [--producers 32] [--consumers 2] [--only cache,pipeline]
 *     [--rows redis-live-1,producers-1,...] [--producer statement|begin|group]
 *     [--lanes 4] [--max-batch 8] [--isolation rerun|savepoint]
 *
 * Rows are <bus>-<mode>-<events per tx> (bus: redis, memory; mode: live, backlog),
 * redis-live-1-<other producer style>, or producers-<events per tx>; default all of them. The producer writes its order rows and their
 * outbox rows in one statement (outbox.insert) unless --producer begin (sql.begin, every
 * statement awaited) or --producer group (that statement as a unit of the kit's group commit, the
 * units of concurrent producers sharing a transaction: --lanes, --max-batch, --isolation); the
 * producers rows are measured every way.
 *
 * Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test) and Redis
 * (REDIS_URL, default redis://127.0.0.1:6379); writes only in a schema and key prefix of its own.
 */
import { writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { GroupCommitOptions } from "@meridian/kit/postgres";
import { configureLogging } from "../../packages/kit/src/log.js";
import { measureCacheLatency, type LatencyResult } from "./cache-latency.js";
import { runPipeline, type PipelineOptions, type PipelineResult, type ProducerStyle } from "./pipeline.js";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "30000" },
    producers: { type: "string", default: "32" },
    consumers: { type: "string", default: "2" },
    pool: { type: "string" },
    only: { type: "string" },
    rows: { type: "string" },
    producer: { type: "string", default: "statement" },
    lanes: { type: "string" },
    "max-batch": { type: "string" },
    isolation: { type: "string" },
  },
});
const groupCommitText = (o: GroupCommitOptions) =>
  `${o.lanes ?? 4} lanes, batches of up to ${o.maxBatch ?? 8}, isolation ${o.isolation ?? "rerun"}`;
const pgUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const only = new Set(args.only?.split(",") ?? ["cache", "pipeline"]);
configureLogging({ level: "warn" });

const lines: string[] = [];
const print = (line = "") => {
  lines.push(line);
  console.log(line);
};

print(`# Events and cache benchmark`);
print();
print(
  `${new Date().toISOString()} · ${availableParallelism()} CPUs (${cpus()[0]?.model ?? "?"}) · Bun ${Bun.version} · load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")} at start`,
);
print();

if (only.has("cache")) {
  const result = await measureCacheLatency(redisUrl);
  const row = (r: LatencyResult) => `| ${r.name} | ${r.samples} | ${r.p50Us} | ${r.p99Us} | ${r.meanUs} |`;
  print(`## Cache hit latency (sequential, one connection, ${result.valueBytes}-byte protobuf value)`);
  print();
  print(`| read | samples | p50 µs | p99 µs | mean µs |`);
  print(`|---|---:|---:|---:|---:|`);
  print(row(result.bareGet));
  print(row(result.cacheHit));
  print(row(result.memoryHit));
  print();
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  print(
    `Cache hit / bare GET: p50 ${ratio(result.cacheHit.p50Us, result.bareGet.p50Us)}×, p99 ${ratio(result.cacheHit.p99Us, result.bareGet.p99Us)}× (target ≤ 1.2×).`,
  );
  print();
}

if (only.has("pipeline")) {
  const events = Number(args.events);
  const producers = Number(args.producers);
  const consumers = Number(args.consumers);
  const pool = args.pool === undefined ? undefined : Number(args.pool);
  const styles: ReadonlyArray<ProducerStyle> = ["statement", "group", "begin"];
  const groupCommit: GroupCommitOptions = {
    ...(args.lanes === undefined ? {} : { lanes: Number(args.lanes) }),
    ...(args["max-batch"] === undefined ? {} : { maxBatch: Number(args["max-batch"]) }),
    ...(args.isolation === "savepoint" || args.isolation === "rerun" ? { isolation: args.isolation } : {}),
  };
  const producer = styles.find((s) => s === args.producer) ?? "statement";
  const wanted = args.rows === undefined ? undefined : new Set(args.rows.split(","));
  const configs: PipelineOptions[] = [];
  const add = (name: string, config: Omit<PipelineOptions, "pgUrl" | "redisUrl" | "events" | "producers" | "consumers">) => {
    if (wanted === undefined || wanted.has(name)) configs.push({ ...config, pgUrl, redisUrl, events, producers, consumers, groupCommit, ...(pool === undefined ? {} : { pool }) });
  };
  for (const backend of ["redis", "in-process"] as const) {
    const bus = backend === "redis" ? "redis" : "memory";
    for (const eventsPerTransaction of [1, 10]) add(`${bus}-live-${eventsPerTransaction}`, { backend, eventsPerTransaction, mode: "live", producer });
    add(`${bus}-backlog-10`, { backend, eventsPerTransaction: 10, mode: "backlog", producer });
  }
  // The other producer styles end to end, for comparison.
  for (const style of styles.filter((s) => s !== producer)) {
    add(`redis-live-1-${style}`, { backend: "redis", eventsPerTransaction: 1, mode: "live", producer: style });
  }
  for (const eventsPerTransaction of [1, 10]) {
    for (const style of styles) {
      add(`producers-${eventsPerTransaction}`, { backend: "in-process", eventsPerTransaction, mode: "producers", producer: style });
    }
  }
  const results: PipelineResult[] = [];
  for (const config of configs) {
    results.push(await runPipeline(config));
    const r = results[results.length - 1]!;
    console.error(
      `  ${config.backend} ${config.mode}, ${config.eventsPerTransaction}/tx (${config.producer}): ${Math.round(r.eventsPerSecond)} events/s, p99 lag ${r.lagMs.p99} ms, batch ${r.meanBatch}, units per group commit ${r.unitsPerGroupCommit}, cpu ms/1000 events bun ${r.cpu.bun} pg ${r.cpu.postgres} redis ${r.cpu.redis}`,
    );
  }
  print(`## Events end to end (outbox insert → relay → idempotent consumer applied)`);
  print();
  print(
    `${events} events per row; ${producers} concurrent producer transactions, each inserting its order rows and their outbox rows; ${consumers} consumers in one group, batches of up to 500 applied in one transaction (idempotentBatch); relay defaults (500 per round, 50 ms idle poll). producer tx: statement = the order rows and their outbox rows in one statement (\`outbox.insert\` in a WITH; one round trip, no BEGIN/COMMIT); begin = \`sql.begin\`, each statement awaited (the previous bench); group = that statement as a unit of work of the kit's group commit (\`GroupCommit.run\`: the units of concurrent producers run one after the other in a shared \`sql.begin\` transaction, committed once; ${groupCommitText(groupCommit)}). CPU: process time of this Bun process (producers, relay, consumers), of the run's PostgreSQL backends (by application_name), and of the whole Redis server, per 1000 events. live: everything runs at once, timed from the first producer transaction to the last apply, lag = envelope time (outbox insert) to apply commit. backlog: the outbox is filled first, then the relay and consumers drain it (lag is then waiting time, not shown). producers: the producers alone, for the ceiling live can reach when everything shares the machine's CPUs.`,
  );
  print();
  print(
    `| bus | mode | producer tx | events per producer tx | events/s | lag p50 ms | lag p99 ms | lag max ms | applied | CPU ms / 1000 events: Bun | PostgreSQL | Redis |`,
  );
  print(`|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|`);
  for (const r of results) {
    const lag = r.options.mode === "live" ? `${r.lagMs.p50} | ${r.lagMs.p99} | ${r.lagMs.max}` : "– | – | –";
    const bus = r.options.mode === "producers" ? "–" : r.options.backend;
    print(
      `| ${bus} | ${r.options.mode} | ${r.options.producer} | ${r.options.eventsPerTransaction} | ${Math.round(r.eventsPerSecond)} | ${lag} | ${r.options.mode === "producers" ? "–" : r.applied} | ${r.cpu.bun} | ${r.cpu.postgres} | ${r.options.backend === "redis" ? r.cpu.redis : "–"} |`,
    );
  }
  print();
}

if (args.rows === undefined && args.only === undefined) writeFileSync(join(import.meta.dir, "results.md"), `${lines.join("\n")}\n`);
process.exit(0);
