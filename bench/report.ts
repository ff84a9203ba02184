/**
 * The results as a markdown table with the issue's two ratios and targets,
 * plus the conditions of the run, printed and written to bench/results.md.
 */
import type { LoadResult } from "./load/result.js";
import type { ServerSpec } from "./servers.js";

/** One measured run of one server. */
export interface Measurement {
  readonly load: LoadResult;
  /** Server CPU (all threads) per completed request, µs. */
  readonly cpuUsPerRequest: number | undefined;
  /** Access-log lines the server wrote during the whole run (warm-up and check included). */
  readonly accessLogLines: number | undefined;
}

/** Every round of one server. */
export interface ServerResult {
  readonly spec: ServerSpec;
  readonly runtimeVersion: string;
  readonly rounds: ReadonlyArray<Measurement>;
}

/** How the run was made. */
export interface RunConditions {
  readonly date: string;
  /** The commit measured ("abc1234", maybe "+ uncommitted changes"). */
  readonly revision: string;
  readonly nproc: number;
  readonly cpuModel: string;
  /** 1, 5 and 15 minute load averages when the run started and when it ended. */
  readonly loadAverage: string;
  readonly loadAverageAtEnd: string;
  readonly bunVersion: string;
  readonly nodeVersion: string;
  readonly generator: string;
  readonly connections: number;
  readonly warmupS: number;
  readonly durationS: number;
  readonly rounds: number;
}

/** The issue's targets for the kit. */
export const targets = { vsRawBun: 0.85, vsConnectNode: 2 } as const;

/** The round with the median requests per second: the one each row reports. */
export function median(result: ServerResult): Measurement {
  const sorted = [...result.rounds].sort((a, b) => a.load.rps - b.load.rps);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** The whole report, as markdown. */
export function renderReport(conditions: RunConditions, results: ReadonlyArray<ServerResult>): string {
  const rpsOf = (id: string) => {
    const found = results.find((r) => r.spec.id === id);
    return found === undefined ? undefined : median(found).load.rps;
  };
  const rawBun = rpsOf("raw-bun");
  const connectNode = rpsOf("connect-node");
  const kit = rpsOf("kit");
  const ratio = (rps: number, base: number | undefined) => (base === undefined ? "–" : `${(rps / base).toFixed(2)}×`);
  const lines: string[] = [
    "# Benchmark: a trivial unary Connect JSON call on keep-alive HTTP/1.1",
    "",
    `${conditions.date} · commit ${conditions.revision} · \`nproc\` ${conditions.nproc} (${conditions.cpuModel}) · load average ${conditions.loadAverage} at start, ${conditions.loadAverageAtEnd} at end · ` +
      `bun ${conditions.bunVersion} · ${conditions.nodeVersion === "" ? "no Node row" : `node ${conditions.nodeVersion} (connect-node row)`}`,
    "",
    `Load: ${conditions.generator}, ${conditions.connections} keep-alive connections, one generator process, ` +
      `${conditions.warmupS} s warm-up then ${conditions.durationS} s measured per server, servers one after another` +
      (conditions.rounds > 1 ? `, ${conditions.rounds} rounds (each row is the round with the median rps)` : "") +
      ". Call: `POST /meridian.bench.v1.BenchService/Echo` `{\"message\":\"hello, meridian\",\"number\":42}` → the same plus `messageLength`.",
    "",
    ...busyMachineWarning(conditions),
    "| server | runtime | rps | p50 ms | p99 ms | non-2xx | server CPU µs/req | generator cores | × raw Bun | × connect-node |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const result of results) {
    const m = median(result);
    lines.push(
      `| **${result.spec.id}** ${result.spec.label} | ${result.runtimeVersion} | ${Math.round(m.load.rps).toLocaleString("en-US")} | ` +
        `${m.load.p50Ms.toFixed(2)} | ${m.load.p99Ms.toFixed(2)} | ${m.load.non2xx + m.load.socketErrors} | ` +
        `${m.cpuUsPerRequest === undefined ? "–" : m.cpuUsPerRequest.toFixed(1)} | ${m.load.generatorCores?.toFixed(2) ?? "–"} | ` +
        `${ratio(m.load.rps, rawBun)} | ${ratio(m.load.rps, connectNode)} |`,
    );
  }
  lines.push("");
  if (kit !== undefined && rawBun !== undefined) {
    const r = kit / rawBun;
    lines.push(`- kit / raw Bun.serve: **${r.toFixed(2)}×** (target ≥ ${targets.vsRawBun}×: ${r >= targets.vsRawBun ? "met" : "missed"})`);
  }
  if (kit !== undefined && connectNode !== undefined) {
    const r = kit / connectNode;
    lines.push(`- kit / connect-node (Node): **${r.toFixed(2)}×** (target ≥ ${targets.vsConnectNode}×: ${r >= targets.vsConnectNode ? "met" : "missed"})`);
  }
  const cpuOf = (id: string) => {
    const found = results.find((r) => r.spec.id === id);
    return found === undefined ? undefined : median(found).cpuUsPerRequest;
  };
  const kitCpu = cpuOf("kit");
  for (const [id, name] of [["raw-bun", "raw Bun.serve"], ["connect-node", "connect-node"]] as const) {
    const baseCpu = cpuOf(id);
    if (kitCpu === undefined || baseCpu === undefined) continue;
    lines.push(
      `- kit / ${name} by server CPU per request (the rps ratio when the server's core, not the generator or the machine, is the limit): ` +
        `**${(baseCpu / kitCpu).toFixed(2)}×**`,
    );
  }
  const listenerA = rpsOf("connect-fetch-bun");
  const listenerB = rpsOf("connect-node-bun");
  if (listenerA !== undefined && listenerB !== undefined) {
    lines.push(
      `- listener choice, same connect handlers on Bun: Bun.serve + Fetch adapter / node:http = **${(listenerA / listenerB).toFixed(2)}×** rps`,
    );
  }
  lines.push(...costLadder(results));
  // Issue 5: logs + metrics + tracing with no exporter (the kit's default: spans are not even made)
  // against logs off; metrics cannot be turned off, so they are in both. kit-traced also records spans.
  const allOff = rpsOf("kit-no-log");
  for (const [id, what] of [
    ["kit", "logs + metrics + tracing without an exporter (kit)"],
    ["kit-traced", "logs + metrics + spans recorded and exported to a discarding exporter (kit-traced)"],
  ] as const) {
    const on = rpsOf(id);
    if (on === undefined || allOff === undefined) continue;
    const loss = 1 - on / allOff;
    lines.push(
      `- observability cost: ${what} vs logs and tracing off (kit-no-log): **${(loss * 100).toFixed(1)}% rps loss**` +
        (id === "kit" ? ` (issue 5's target ≤ 10%: ${loss <= 0.1 ? "met" : "missed"})` : ""),
    );
  }
  const logged = results.filter((r) => r.spec.accessLog);
  for (const result of logged) {
    const m = median(result);
    lines.push(`- ${result.spec.id} wrote ${m.accessLogLines ?? "?"} access-log lines for ${m.load.requests} measured requests (plus warm-up)`);
  }
  if (conditions.rounds > 1) {
    lines.push("", "rps (server CPU µs/req) per round:", "");
    for (const result of results) {
      const rounds = result.rounds.map((m) => `${Math.round(m.load.rps)} (${m.cpuUsPerRequest?.toFixed(1) ?? "–"})`);
      lines.push(`- ${result.spec.id}: ${rounds.join(", ")}`);
    }
  }
  lines.push(
    "",
    "non-2xx counts responses outside 2xx (wrk: status ≥ 400) plus socket errors. Server CPU is the server process's",
    "user + system time (all threads) during the measured run divided by the requests completed in it: less sensitive",
    "than rps to the load generator and other processes sharing the 2 cores. Generator cores is the CPU the load",
    "generator used per second of its run: near 1.0 the single-threaded generator, not the server, sets the rps ceiling.",
    "",
  );
  return lines.join("\n");
}

/** Server CPU per request, split into layers by difference between rows that each add one thing. */
function costLadder(results: ReadonlyArray<ServerResult>): string[] {
  const cpuOf = (id: string) => {
    const found = results.find((r) => r.spec.id === id);
    return found === undefined ? undefined : median(found).cpuUsPerRequest;
  };
  const steps: ReadonlyArray<readonly [string, string, string]> = [
    ["raw-bun", "", "Bun.serve, HTTP/1.1 and JSON.parse/stringify (raw-bun)"],
    ["raw-bun-protobuf", "raw-bun", "protobuf-es JSON codec instead of JSON.parse/stringify (raw-bun-protobuf − raw-bun)"],
    ["raw-bun-streams", "raw-bun", "bodies streamed as connect's Fetch adapter does (raw-bun-streams − raw-bun)"],
    ["connect-fetch-bun", "raw-bun-streams", "connect's generic handler beyond the streams (connect-fetch-bun − raw-bun-streams)"],
    ["kit-no-log", "raw-bun", "everything the kit adds but the log line (kit-no-log − raw-bun)"],
    ["kit", "kit-no-log", "the access-log line (kit − kit-no-log)"],
    ["kit-traced", "kit", "a span per call (kit-traced − kit)"],
  ];
  const out: string[] = [];
  for (const [id, base, what] of steps) {
    const cost = cpuOf(id);
    const baseCost = base === "" ? 0 : cpuOf(base);
    if (cost === undefined || baseCost === undefined) continue;
    out.push(`  - ${what}: ${(cost - baseCost).toFixed(1)} µs`);
  }
  return out.length === 0 ? [] : ["- server CPU per request by layer (µs, differences of rows; noisy to a few µs):", ...out];
}

/** A warning when other processes were using the machine: then rps says more about them than about the servers. */
function busyMachineWarning(conditions: RunConditions): string[] {
  const oneMinute = (text: string) => Number(text.split(" ")[0]);
  const busiest = Math.max(oneMinute(conditions.loadAverage), oneMinute(conditions.loadAverageAtEnd));
  // The bench itself keeps about two processes busy; more than that is someone else.
  if (busiest <= conditions.nproc + 0.5) return [];
  return [
    `**Busy machine:** the load average reached ${busiest.toFixed(2)} on ${conditions.nproc} cores, so other processes took CPU ` +
      "during the run: requests/s (and its ratios) are depressed unevenly; server CPU per request is the figure to compare.",
    "",
  ];
}
