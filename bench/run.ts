/**
 * `bun run bench`: the kit against raw Bun.serve and connect-node on one
 * trivial unary Connect JSON call over keep-alive HTTP/1.1. Each server runs
 * alone, is checked, warmed up and loaded from a separate process for the same
 * time; the table goes to stdout and bench/results.md. See bench/README.md.
 *
 *   bun run bench [--duration 10] [--warmup 3] [--connections 64] [--rounds 1]
 *                 [--generator wrk|socket-client] [--only kit,raw-bun,...]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cpuSecondsOf } from "./cpu.js";
import { echoRequestBody } from "./echo.js";
import { availableGenerator, generateLoad, type Generator, type LoadOptions } from "./load/generate.js";
import type { LoadResult } from "./load/result.js";
import { nodeRuntime } from "./node-runtime.js";
import { renderReport, type Measurement, type ServerResult } from "./report.js";
import { bundleForNode, checkEcho, servers, startServer, type ServerSpec } from "./servers.js";

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    connections: { type: "string", default: "64" },
    rounds: { type: "string", default: "1" },
    generator: { type: "string" },
    only: { type: "string" },
  },
});
const durationS = Number(args.duration);
const warmupS = Number(args.warmup);
const rounds = Number(args.rounds);
const load: LoadOptions = {
  generator: availableGenerator(args.generator as Generator | undefined),
  connections: Number(args.connections),
  body: echoRequestBody,
};
const only = args.only?.split(",");
const chosen = servers.filter((s) => only === undefined || only.includes(s.id));

const node = chosen.some((s) => s.runtime === "node") ? await nodeRuntime() : undefined;
const commands = new Map<string, string[]>();
for (const spec of chosen) {
  commands.set(
    spec.id,
    spec.runtime === "node"
      ? [node!.path, await bundleForNode(spec)]
      : [process.execPath, join(import.meta.dir, "servers", spec.entry)],
  );
}

/** The commit measured, and whether the kit, SDK or services had uncommitted changes. */
function sourceRevision(): string {
  const head = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: import.meta.dir, stderr: "ignore" });
  if (head.exitCode !== 0) return "unknown (not a git checkout)";
  const dirty = Bun.spawnSync(["git", "status", "--porcelain", "--untracked-files=no", "--", "packages", "sdk", "proto", "bench/servers"], {
    cwd: join(import.meta.dir, ".."),
    stderr: "ignore",
  });
  return `${head.stdout.toString().trim()}${dirty.stdout.toString().trim() === "" ? "" : " + uncommitted changes"}`;
}

const logDir = mkdtempSync(join(tmpdir(), "meridian-bench-"));
const loadAverageNow = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
const loadAverage = loadAverageNow();
console.error(
  `bench: ${chosen.map((s) => s.id).join(", ")} · ${load.generator} · ${load.connections} connections · ` +
    `${warmupS} s warm-up + ${durationS} s each · ${rounds} round(s)`,
);

const measured = new Map<string, Measurement[]>(chosen.map((s) => [s.id, []]));
for (let round = 0; round < rounds; round++) {
  // Each round starts one server later, so no server always runs first (or right after the slowest).
  const order = chosen.map((_, i) => chosen[(i + round) % chosen.length]!);
  for (const spec of order) {
    const m = await measure(spec);
    measured.get(spec.id)!.push(m);
    console.error(
      `  round ${round + 1} ${spec.id}: ${Math.round(m.load.rps)} rps, p50 ${m.load.p50Ms.toFixed(2)} ms, ` +
        `p99 ${m.load.p99Ms.toFixed(2)} ms, non-2xx ${m.load.non2xx}, socket errors ${m.load.socketErrors}` +
        (m.cpuUsPerRequest === undefined ? "" : `, server CPU ${m.cpuUsPerRequest.toFixed(1)} µs/req`),
    );
  }
}
rmSync(logDir, { recursive: true, force: true });

const results: ServerResult[] = chosen.map((spec) => ({
  spec,
  runtimeVersion: spec.runtime === "node" ? `node ${node!.version}` : `bun ${Bun.version}`,
  rounds: measured.get(spec.id)!,
}));
const report = renderReport(
  {
    date: new Date().toISOString(),
    revision: sourceRevision(),
    nproc: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? "unknown CPU",
    loadAverage,
    loadAverageAtEnd: loadAverageNow(),
    bunVersion: Bun.version,
    nodeVersion: node?.version ?? "",
    generator: load.generator === "wrk" ? "wrk -t1 (wrk.lua)" : "bench/load/socket-client.ts on Bun",
    connections: load.connections,
    warmupS,
    durationS,
    rounds,
  },
  results,
);
console.log(report);
await Bun.write(join(import.meta.dir, "results.md"), report);
process.exit(0);

/** Starts, checks, warms up, measures, re-checks and stops one server. */
async function measure(spec: ServerSpec): Promise<Measurement> {
  const server = await startServer(spec, commands.get(spec.id)!, logDir);
  let result: LoadResult;
  let cpuSeconds: number | undefined;
  try {
    await generateLoad(server.url, warmupS, load);
    const cpuBefore = cpuSecondsOf(server.pid);
    result = await generateLoad(server.url, durationS, load);
    const cpuAfter = cpuSecondsOf(server.pid);
    cpuSeconds = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore;
    await checkEcho(server.url); // still right after the load
  } finally {
    await server.stop(); // the kit flushes its log on the way out
  }
  const accessLogLines = spec.accessLog ? countRpcLines(server.stdoutPath) : undefined;
  rmSync(server.stdoutPath, { force: true });
  return {
    load: result,
    cpuUsPerRequest: cpuSeconds === undefined || result.requests === 0 ? undefined : (cpuSeconds / result.requests) * 1e6,
    accessLogLines,
  };
}

/** Access-log lines ("message":"rpc") in a server's stdout, proof that logging was on. */
function countRpcLines(path: string): number {
  const text = readFileSync(path, "latin1");
  let count = 0;
  for (let at = text.indexOf('"message":"rpc"'); at >= 0; at = text.indexOf('"message":"rpc"', at + 1)) count++;
  return count;
}
