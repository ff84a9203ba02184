/**
 * Services as real processes for benchmarks: `bun run services/<name>/src/main.ts` on free
 * ports, stdout and stderr to a log file (as a deployment would write them, without a test
 * harness parsing every line), ready once /readyz answers 200; CPU time read from /proc.
 */
import { fileURLToPath } from "node:url";
import type { Subprocess } from "bun";
import { cpuSecondsOf } from "../cpu.js";
import { freePort } from "@meridian/kit/testing";

/** The repository root. */
export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** One running service. */
export interface ServiceProcess {
  readonly name: string;
  readonly pid: number;
  readonly httpUrl: string;
  readonly grpcUrl: string;
  readonly logFile: string;
  /** CPU seconds it has used so far. */
  readonly cpuSeconds: () => number | undefined;
  /** SIGTERM, then SIGKILL after 10 s. */
  readonly stop: () => Promise<void>;
}

const live = new Set<Subprocess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** Starts a service with these variables on top of the bench's own; resolves once it is ready. */
export async function startServiceProcess(
  name: string,
  env: Record<string, string>,
  logDir: string,
  bunArgs: ReadonlyArray<string> = [],
): Promise<ServiceProcess> {
  const [httpPort, grpcPort] = [await freePort(), await freePort()];
  const logFile = `${logDir}/${name}.log`;
  const child = Bun.spawn([process.execPath, ...bunArgs, "run", `services/${name}/src/main.ts`], {
    cwd: repoRoot,
    env: { ...process.env, HOST: "127.0.0.1", HTTP_PORT: String(httpPort), GRPC_PORT: String(grpcPort), ...env },
    stdin: "ignore",
    stdout: Bun.file(logFile),
    stderr: Bun.file(`${logDir}/${name}.err`),
  });
  live.add(child);
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode} while starting: see ${logFile}`);
    const ready = await fetch(`${httpUrl}/readyz`).then((r) => r.status === 200, () => false);
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`${name} not ready within 120 s: see ${logFile}`);
    await Bun.sleep(100);
  }
  return {
    name,
    pid: child.pid,
    httpUrl,
    grpcUrl: `http://127.0.0.1:${grpcPort}`,
    logFile,
    cpuSeconds: () => cpuSecondsOf(child.pid),
    stop: async () => {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await child.exited;
      clearTimeout(timer);
      live.delete(child);
    },
  };
}

