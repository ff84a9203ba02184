/**
 * The servers under test and their processes: each is started alone on a free
 * 127.0.0.1 port, answers one checked Echo before it is measured, and is
 * stopped (SIGTERM, then SIGKILL) before the next one starts. Every child is
 * killed if the bench itself exits early.
 */
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import type { Subprocess } from "bun";
import { freePort } from "@meridian/kit/testing";
import { echoOf, echoPath, echoRequestBody } from "./echo.js";

/** One server of the comparison. */
export interface ServerSpec {
  /** Short name, for --only and file names. */
  readonly id: string;
  readonly label: string;
  readonly runtime: "bun" | "node";
  /** Entry file under bench/servers/ (for Node: bundled first, see {@link bundleForNode}). */
  readonly entry: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Writes one access-log line per call to stdout; the bench counts them. */
  readonly accessLog: boolean;
  /** What the row is for: the comparison, the listener choice, or a layer of the kit's cost. */
  readonly role: "target" | "listener" | "layer";
}

/** Every server, in the order they run: the (a), (b), (c), then the listener choice, then layers. */
export const servers: ReadonlyArray<ServerSpec> = [
  {
    id: "kit",
    label: "(a) the kit: serve + Effect handler, Bun.serve + Fetch adapter, access log on",
    runtime: "bun",
    entry: "kit.ts",
    accessLog: true,
    role: "target",
  },
  { id: "raw-bun", label: "(b) raw Bun.serve, same JSON work", runtime: "bun", entry: "raw-bun.ts", accessLog: false, role: "target" },
  {
    id: "connect-node",
    label: "(c) connect-node: connectNodeAdapter on node:http",
    runtime: "node",
    entry: "connect-node.ts",
    accessLog: false,
    role: "target",
  },
  {
    id: "connect-fetch-bun",
    label: "listener A: connect handlers on Bun.serve + Fetch adapter (no kit)",
    runtime: "bun",
    entry: "connect-fetch-bun.ts",
    accessLog: false,
    role: "listener",
  },
  {
    id: "connect-node-bun",
    label: "listener B: connectNodeAdapter on node:http, on Bun (no kit)",
    runtime: "bun",
    entry: "connect-node.ts",
    accessLog: false,
    role: "listener",
  },
  {
    id: "raw-bun-protobuf",
    label: "layer: raw Bun.serve with protobuf-es's JSON codec instead of JSON.parse/stringify",
    runtime: "bun",
    entry: "raw-bun-protobuf.ts",
    accessLog: false,
    role: "layer",
  },
  {
    id: "raw-bun-streams",
    label: "layer: raw Bun.serve with bodies streamed as connect's Fetch adapter does",
    runtime: "bun",
    entry: "raw-bun-streams.ts",
    accessLog: false,
    role: "layer",
  },
  {
    id: "kit-no-log",
    label: "layer: the kit with LOG_LEVEL=warn (no access-log line)",
    runtime: "bun",
    entry: "kit.ts",
    env: { BENCH_ACCESS_LOG: "off" },
    accessLog: false,
    role: "layer",
  },
  {
    id: "kit-traced",
    label: "layer: the kit with tracing on (a span per call, discarding exporter), access log on",
    runtime: "bun",
    entry: "kit.ts",
    env: { BENCH_TRACING: "on" },
    accessLog: true,
    role: "layer",
  },
];

/** A started, verified server. */
export interface RunningServer {
  readonly spec: ServerSpec;
  readonly url: string;
  readonly pid: number;
  readonly stdoutPath: string;
  readonly stop: () => Promise<void>;
}

const live = new Set<Subprocess>();
const killAll = () => {
  for (const child of live) child.kill("SIGKILL");
};
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

/** Bundles a server entry into one ES module for Node (connect-node and protobuf included). */
export async function bundleForNode(spec: ServerSpec): Promise<string> {
  const outdir = join(import.meta.dir, ".build");
  const naming = `${spec.entry.replace(/\.ts$/, "")}.mjs`;
  const build = await Bun.build({ entrypoints: [join(import.meta.dir, "servers", spec.entry)], target: "node", outdir, naming });
  if (!build.success) throw new Error(`bundling ${spec.entry} for Node failed:\n${build.logs.join("\n")}`);
  return join(outdir, naming);
}

/**
 * Starts `spec` with `command` (stdout and stderr to files in `logDir`), waits
 * until it answers, and checks its answer to the Echo request; fails if it
 * exits, never answers or answers wrong.
 */
export async function startServer(spec: ServerSpec, command: string[], logDir: string): Promise<RunningServer> {
  const port = await freePort();
  const stdoutPath = join(logDir, `${spec.id}.stdout`);
  const stderrPath = join(logDir, `${spec.id}.stderr`);
  const child = Bun.spawn(command, {
    env: { ...process.env, ...spec.env, PORT: String(port) },
    stdout: Bun.file(stdoutPath),
    stderr: Bun.file(stderrPath),
    stdin: "ignore",
  });
  live.add(child);
  const stop = async () => {
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await child.exited;
    clearTimeout(timer);
    live.delete(child);
  };
  const url = `http://127.0.0.1:${port}${echoPath}`;
  try {
    await untilAnswered(url, child, stderrPath);
    await checkEcho(url);
  } catch (e) {
    await stop();
    throw new Error(`${spec.id}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { spec, url, pid: child.pid, stdoutPath, stop };
}

/** Sends the Echo request once and fails unless the answer is exactly right. */
export async function checkEcho(url: string): Promise<void> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "connect-protocol-version": "1" },
    body: echoRequestBody,
  });
  const text = await response.text();
  const contentType = response.headers.get("content-type") ?? "";
  if (response.status !== 200 || !contentType.startsWith("application/json")) {
    throw new Error(`Echo answered ${response.status} ${contentType}: ${text}`);
  }
  const expected = echoOf(JSON.parse(echoRequestBody) as { message: string; number: number });
  if (!isDeepStrictEqual(JSON.parse(text), expected)) {
    throw new Error(`Echo answered ${text}, expected ${JSON.stringify(expected)}`);
  }
}

async function untilAnswered(url: string, child: Subprocess, stderrPath: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited (${child.exitCode ?? child.signalCode}) before answering: ${await Bun.file(stderrPath).text()}`);
    }
    const answered = await fetch(url, { method: "POST", body: "{}" }).then(
      () => true,
      () => false,
    );
    if (answered) return;
    if (Date.now() > deadline) throw new Error("did not answer within 20 s");
    await Bun.sleep(100);
  }
}

