/**
 * The platform in distributed mode for end-to-end tests: every service its own process (the
 * environment `bun run start:distributed` and compose give them), on a fresh PostgreSQL database
 * and a Redis key prefix of its own (both dropped by `stop`), on ports no other test uses. Services
 * can be killed and restarted one by one.
 */
import { fileURLToPath } from "node:url";
import { dropRedisKeys, postgresDatabase, startService, type RunningService, type TestDatabase } from "@meridian/kit/testing";
import { portsOf, processEnvironment, topology, waitUntilReady, type SharedEnvironment } from "../distributed.js";

/** The repository root, where the services' entries are. */
export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** The dev API key the gateway is given. */
export const devApiKey = `mk_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url")}`;

export interface RunningPlatform {
  readonly service: (name: string) => RunningService;
  /** Base URL of a service's HTTP port. */
  readonly httpUrl: (name: string) => string;
  /** Starts a stopped (or killed) service again, with the same environment and ports. */
  readonly restart: (name: string) => Promise<RunningService>;
  readonly stop: () => Promise<void>;
  readonly databaseUrl: string;
}

/** Starts every service (or the first `upTo` of the topology), each once its downstreams are ready. */
export async function startPlatform(options: { readonly env?: Record<string, string> } = {}): Promise<RunningPlatform> {
  const database: TestDatabase = await postgresDatabase();
  // Fixed ports (a downstream's URL is known before it starts), below the ephemeral range
  // (32768–60999 on Linux), where outgoing connections could already hold one.
  const portOffset = 10_000 + Math.floor(Math.random() * 700) * 20;
  const shared: SharedEnvironment = {
    DATABASE_URL: database.env.DATABASE_URL!,
    REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    REDIS_KEY_PREFIX: `e2e:${crypto.randomUUID().slice(0, 8)}:`,
    GATEWAY_DEV_API_KEY: devApiKey,
    LOG_LEVEL: "info",
    ...options.env,
  };
  const running = new Map<string, RunningService>();
  const start = async (name: string) => {
    const node = topology.find((n) => n.name === name)!;
    const service = await startService({
      entry: node.entry,
      cwd: repoRoot,
      env: processEnvironment(node, shared, portOffset),
      startTimeoutMs: 120_000,
    });
    running.set(name, service);
    await waitUntilReady(service.httpUrl, 120_000, service.isRunning);
    return service;
  };
  const stop = async () => {
    for (const node of [...topology].reverse()) await running.get(node.name)?.stop(8000);
    await database.drop();
    await dropRedisKeys(shared.REDIS_URL, shared.REDIS_KEY_PREFIX);
  };
  try {
    for (const node of topology) await start(node.name);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    service: (name) => running.get(name)!,
    httpUrl: (name) => `http://127.0.0.1:${portsOf(topology.find((n) => n.name === name)!, portOffset).http}`,
    restart: start,
    stop,
    databaseUrl: shared.DATABASE_URL,
  };
}

/** A launcher (`bun run <script>`) as a user starts it, and what it announced on stderr. */
export interface Launched {
  readonly process: Bun.Subprocess<"ignore", "pipe", "pipe">;
  readonly announced: string;
}

/**
 * Runs `bun run <script>` from the repository root and reads its stderr until `until` matches (or
 * it exits, or `timeoutMs` passes); stderr is drained from then on so a chatty log never blocks it.
 */
export async function launch(script: string, env: Record<string, string | undefined>, until: RegExp, timeoutMs = 240_000): Promise<Launched> {
  const child = Bun.spawn([process.execPath, "run", script], { cwd: repoRoot, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let announced = "";
  const decoder = new TextDecoder();
  const reader = child.stderr.getReader();
  const deadline = Date.now() + timeoutMs;
  while (!until.test(announced) && Date.now() < deadline) {
    const chunk = await Promise.race([reader.read(), Bun.sleep(Math.max(0, deadline - Date.now())).then(() => ({ done: true as const, value: undefined }))]);
    if (chunk.done) break;
    announced += decoder.decode(chunk.value, { stream: true });
  }
  void (async () => {
    for (;;) if ((await reader.read()).done) return;
  })();
  return { process: child, announced };
}
