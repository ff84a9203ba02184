/**
 * A service as a real process, for end-to-end tests: `bun run <entry>` with
 * its own environment, ready once it logs `listening`, its JSON log lines kept
 * for assertions, and killed however the test run ends.
 */
import { constants } from "node:os";
import { resolve } from "node:path";

/** How to start a service process. */
export interface StartServiceOptions {
  /** The service's main module, e.g. "services/universe/src/main.ts" (relative to `cwd`). */
  readonly entry: string;
  /**
   * Variables on top of the test process's environment; `undefined` removes one (e.g.
   * DATABASE_URL). HOST, HTTP_PORT and GRPC_PORT default to 127.0.0.1 and free ports, LOG_LEVEL to "info".
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Working directory of the child (default: the test process's). */
  readonly cwd?: string;
  /** How long the service may take to log `listening` (default 30 s). */
  readonly startTimeoutMs?: number;
}

/** One JSON line the service printed. */
export type LogLine = Readonly<Record<string, unknown>> & { readonly message?: unknown };

/** A service process that logged `listening`. */
export interface RunningService {
  /** Base URL of the HTTP/1.1 listener (Connect, gRPC-Web, health). */
  readonly httpUrl: string;
  /** Base URL of the HTTP/2 cleartext listener (gRPC). */
  readonly grpcUrl: string;
  readonly pid: number;
  /** Every JSON line printed on stdout so far, parsed, in order. */
  readonly logs: () => ReadonlyArray<LogLine>;
  /** Everything printed so far, stdout then stderr, for failure messages. */
  readonly output: () => string;
  /** The first log line (already printed or yet to come) that matches; rejects after `timeoutMs` or at exit. */
  readonly waitForLog: (match: (line: LogLine) => boolean, timeoutMs?: number) => Promise<LogLine>;
  /** Sends a signal to the process. */
  readonly signal: (signal: NodeJS.Signals) => void;
  /** Resolves with the exit code (128 + signal number when a signal killed it). */
  readonly exited: Promise<number>;
  /** True until the process has exited. */
  readonly isRunning: () => boolean;
  /** SIGTERM, then SIGKILL if it is still running after `graceMs` (default 5 s); resolves with the exit code. */
  readonly stop: (graceMs?: number) => Promise<number>;
  readonly [Symbol.asyncDispose]: () => Promise<void>;
}

/** The service could not start: it exited, or did not log `listening` in time. Carries its output. */
export class ServiceStartFailed extends Error {
  override readonly name = "ServiceStartFailed";
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(`${message}\n--- service output ---\n${output}`);
  }
}

/** A process that ran to its end, with what it printed. */
export interface FinishedProcess {
  readonly exitCode: number;
  readonly logs: ReadonlyArray<LogLine>;
  readonly output: string;
}

/**
 * Starts `bun run <entry>` and resolves once it logs `listening` with its
 * `http` and `grpc` URLs; rejects with the process's output if it exits or
 * times out first. The child is killed when the test process exits, whatever
 * happens; call `stop()` (or `await using`) to end it sooner.
 */
export async function startService(options: StartServiceOptions): Promise<RunningService> {
  const child = spawnService(options);
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  try {
    const listening = await child.waitForLog((line) => line.message === "listening", timeoutMs);
    const { http, grpc } = listening;
    if (typeof http !== "string" || typeof grpc !== "string") {
      throw new ServiceStartFailed("the `listening` line has no http and grpc URLs", child.output());
    }
    return { ...child, httpUrl: http, grpcUrl: grpc };
  } catch (e) {
    await child.stop(1000);
    if (e instanceof ServiceStartFailed) throw e;
    throw new ServiceStartFailed(e instanceof Error ? e.message : String(e), child.output());
  }
}

/** Runs `bun run <entry>` until it exits on its own (or is killed after `timeoutMs`, default 30 s). */
export async function runServiceToExit(options: StartServiceOptions & { readonly timeoutMs?: number }): Promise<FinishedProcess> {
  const child = spawnService(options);
  const timer = setTimeout(() => child.signal("SIGKILL"), options.timeoutMs ?? 30_000);
  try {
    const exitCode = await child.exited;
    return { exitCode, logs: child.logs(), output: child.output() };
  } finally {
    clearTimeout(timer);
  }
}

type ChildProcess = Omit<RunningService, "httpUrl" | "grpcUrl">;

function spawnService(options: StartServiceOptions): ChildProcess {
  // Listener and log defaults beat the test process's own variables; the caller's beat both.
  const merged = { ...process.env, HOST: "127.0.0.1", HTTP_PORT: "0", GRPC_PORT: "0", LOG_LEVEL: "info", ...options.env };
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(merged)) if (value !== undefined) env[key] = value;

  const cwd = options.cwd ?? process.cwd();
  const proc = Bun.spawn([process.execPath, "run", resolve(cwd, options.entry)], {
    cwd,
    env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  live.add(proc);
  installExitHook();

  const lines: LogLine[] = [];
  let stdout = "";
  let consumed = 0;
  let stderr = "";
  const watchers = new Set<(line: LogLine | "exit") => void>();
  const notify = (line: LogLine | "exit") => {
    for (const watcher of [...watchers]) watcher(line);
  };
  const stdoutDone = readText(proc.stdout, (text) => {
    stdout += text;
    // Only whole lines are parsed; the tail waits for its newline.
    const parsedUpTo = stdout.lastIndexOf("\n");
    const fresh = stdout.slice(consumed, parsedUpTo + 1);
    consumed = parsedUpTo + 1;
    for (const raw of fresh.split("\n")) {
      const line = parseLine(raw);
      if (line === undefined) continue;
      lines.push(line);
      notify(line);
    }
  });
  const stderrDone = readText(proc.stderr, (text) => {
    stderr += text;
  });
  const exited = proc.exited.then(async (code) => {
    live.delete(proc);
    await Promise.all([stdoutDone, stderrDone]);
    const tail = parseLine(stdout.slice(consumed));
    if (tail !== undefined) lines.push(tail);
    notify("exit");
    return proc.signalCode === null ? code : 128 + signalNumber(proc.signalCode);
  });
  let running = true;
  void exited.then(() => {
    running = false;
  });

  const output = () => `${stdout}${stderr === "" ? "" : `--- stderr ---\n${stderr}`}`;
  const stop = async (graceMs = 5000) => {
    if (running) {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    }
    return exited;
  };
  return {
    pid: proc.pid,
    logs: () => lines,
    output,
    waitForLog: (match, timeoutMs = 10_000) =>
      new Promise<LogLine>((resolvePromise, reject) => {
        const found = lines.find(match);
        if (found !== undefined) return resolvePromise(found);
        if (!running) return reject(new ServiceStartFailed("the process had exited", output()));
        const timer = setTimeout(() => {
          watchers.delete(watch);
          reject(new ServiceStartFailed(`no matching log line within ${timeoutMs} ms`, output()));
        }, timeoutMs);
        const watch = (line: LogLine | "exit") => {
          if (line !== "exit" && !match(line)) return;
          watchers.delete(watch);
          clearTimeout(timer);
          if (line === "exit") reject(new ServiceStartFailed("the process exited", output()));
          else resolvePromise(line);
        };
        watchers.add(watch);
      }),
    signal: (signal) => {
      if (running) proc.kill(signal);
    },
    exited,
    isRunning: () => running,
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop();
    },
  };
}

function parseLine(raw: string): LogLine | undefined {
  const text = raw.trim();
  if (!text.startsWith("{")) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as LogLine) : undefined;
  } catch {
    return undefined;
  }
}

async function readText(stream: ReadableStream<Uint8Array>, onText: (text: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  const reader = stream.getReader();
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    onText(decoder.decode(chunk.value, { stream: true }));
  }
  const rest = decoder.decode();
  if (rest !== "") onText(rest);
}

function signalNumber(signal: NodeJS.Signals | number): number {
  if (typeof signal === "number") return signal;
  return constants.signals[signal] ?? 0;
}

// Children still running when the test process ends are killed, whichever way it ends.
const live = new Set<{ kill(signal?: number | NodeJS.Signals): void }>();
let hooked = false;

function installExitHook(): void {
  if (hooked) return;
  hooked = true;
  const killAll = () => {
    for (const proc of live) proc.kill("SIGKILL");
    live.clear();
  };
  process.once("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      killAll();
      // Then end as the signal would have (re-raising it is not enough: the handler stays installed).
      process.exit(128 + signalNumber(signal));
    });
  }
}
