/**
 * Runs load against one URL from its own process: wrk (with wrk.lua) when it
 * is installed, otherwise socket-client.ts on Bun. A warm-up run and a measured
 * run are separate, so the caller can sample the server around the measured one.
 */
import { join } from "node:path";
import type { LoadResult } from "./result.js";

/** Which program makes the load. */
export type Generator = LoadResult["generator"];

/** How hard to load, with what. */
export interface LoadOptions {
  readonly generator: Generator;
  readonly connections: number;
  readonly body: string;
}

/** wrk if it is on PATH, else the Bun socket client; `preferred` wins when given. */
export function availableGenerator(preferred?: Generator): Generator {
  if (preferred !== undefined) return preferred;
  return Bun.which("wrk") === null ? "socket-client" : "wrk";
}

/** Loads `url` for `seconds` and returns what the generator measured. */
export async function generateLoad(url: string, seconds: number, options: LoadOptions): Promise<LoadResult> {
  return options.generator === "wrk" ? runWrk(url, seconds, options) : runSocketClient(url, seconds, options);
}

interface WrkSummary {
  readonly requests: number;
  readonly durationUs: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly non2xx: number;
  readonly socketErrors: number;
}

async function runWrk(url: string, seconds: number, options: LoadOptions): Promise<LoadResult> {
  const script = join(import.meta.dir, "wrk.lua");
  // One wrk thread: on 2 cores the server gets the other one.
  const { stdout, cores } = await output(
    ["wrk", "-t1", `-c${options.connections}`, `-d${seconds}s`, "--timeout", "5s", "-s", script, url],
    { BENCH_BODY: options.body },
  );
  const summary = lastJsonLine(stdout) as WrkSummary;
  const durationS = summary.durationUs / 1e6;
  return {
    generator: "wrk",
    requests: summary.requests,
    durationS,
    rps: summary.requests / durationS,
    p50Ms: summary.p50Us / 1000,
    p99Ms: summary.p99Us / 1000,
    non2xx: summary.non2xx,
    socketErrors: summary.socketErrors,
    generatorCores: cores,
  };
}

async function runSocketClient(url: string, seconds: number, options: LoadOptions): Promise<LoadResult> {
  const client = join(import.meta.dir, "socket-client.ts");
  const { stdout, cores } = await output([process.execPath, client, url, String(options.connections), String(seconds), options.body]);
  return { ...(lastJsonLine(stdout) as LoadResult), generatorCores: cores };
}

/**
 * Runs a command to its end and returns its stdout and the cores it kept busy
 * on average; a non-zero exit is an error carrying its stderr.
 */
async function output(command: string[], env: Record<string, string> = {}): Promise<{ stdout: string; cores: number | undefined }> {
  const startedAt = performance.now();
  const child = Bun.spawn(command, { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  if (code !== 0) throw new Error(`${command[0]} exited ${code}: ${stderr.trim()}`);
  const cpuMicros = child.resourceUsage()?.cpuTime.total;
  const wallMicros = (performance.now() - startedAt) * 1000;
  return { stdout, cores: cpuMicros === undefined ? undefined : Number(cpuMicros) / wallMicros };
}

function lastJsonLine(text: string): unknown {
  const line = text
    .trim()
    .split("\n")
    .reverse()
    .find((l) => l.startsWith("{"));
  if (line === undefined) throw new Error(`no JSON summary in:\n${text}`);
  return JSON.parse(line);
}
