/**
 * `bun run start:distributed` as a user runs it: every service its own process on the real
 * PostgreSQL and Redis, started in order, the platform healthy through the gateway, and Ctrl-C
 * (SIGTERM here) stopping every process.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { createMeridianClient } from "@meridian/sdk";
import { Gateway } from "@meridian/sdk/gateway";
import { allocatorEnvironment } from "@meridian/kit/allocator";
import { dropRedisKeys, postgresDatabase, type TestDatabase } from "@meridian/kit/testing";
import { portsOf, topology } from "../distributed.js";
import { devApiKey, launch } from "./platform-processes.js";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const redisKeyPrefix = `e2e-dist:${crypto.randomUUID().slice(0, 8)}:`;
let database: TestDatabase | undefined;
let launcher: Bun.Subprocess<"ignore", "pipe", "pipe"> | undefined;

afterAll(async () => {
  // A failed test leaves the platform running: stop it the way a user does, so no child is orphaned.
  if (launcher !== undefined && launcher.exitCode === null) {
    launcher.kill("SIGTERM");
    await Promise.race([launcher.exited, Bun.sleep(60_000)]);
    launcher.kill("SIGKILL");
  }
  await database?.drop();
  await dropRedisKeys(redisUrl, redisKeyPrefix);
}, 60_000);

test("start:distributed runs every service as its own process, healthy, and SIGTERM stops them all", async () => {
  database = await postgresDatabase();
  const launched = await launch(
    "start:distributed",
    { ...process.env, DATABASE_URL: database.env.DATABASE_URL!, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: redisKeyPrefix, GATEWAY_DEV_API_KEY: devApiKey },
    /status page:/,
  );
  launcher = launched.process;
  const announced = launched.announced;
  expect(announced).toContain("Meridian is running distributed");
  for (const node of topology) expect(announced).toContain(`http://127.0.0.1:${portsOf(node).http}`);

  const gateway = topology.find((n) => n.name === "gateway")!;
  const status = await createMeridianClient(Gateway, { baseUrl: `http://127.0.0.1:${portsOf(gateway).http}` }).getSystemStatus(
    {},
    { headers: { authorization: `Bearer ${devApiKey}` } },
  );
  const states = Object.fromEntries(status.services.map((s) => [s.name, s.state]));
  expect(states).toEqual(Object.fromEntries(topology.map((n) => [n.name, "serving"])));
  expect(status.healthy).toBe(true);

  // Each service process runs with the kit's allocator settings (read from /proc, where there is one).
  if (existsSync(`/proc/${launcher.pid}`)) {
    const services = descendantsOf(launcher.pid).filter((pid) => /services\/\w+\/src\/main\.ts/.test(readProc(pid, "cmdline")));
    expect(services.length).toBe(topology.length);
    for (const pid of services) {
      const command = readProc(pid, "cmdline");
      const environment = new Map(readProc(pid, "environ").split("\0").map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]));
      for (const [name, value] of Object.entries(allocatorEnvironment)) expect([command, name, environment.get(name)]).toEqual([command, name, value]);
    }
  }

  launcher.kill("SIGTERM");
  expect(await launcher.exited).toBe(0);
  // Every service's port is closed: the launcher stopped its children, not just itself.
  for (const node of topology) {
    const answered = await fetch(`http://127.0.0.1:${portsOf(node).http}/healthz`).then(() => true, () => false);
    expect([node.name, answered]).toEqual([node.name, false]);
  }
}, 300_000);

/** A /proc file of a process, as text ("" once the process is gone). */
function readProc(pid: number, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return "";
  }
}

/** Every process below `pid` (its children, theirs, and so on). */
function descendantsOf(pid: number): number[] {
  const children = readProc(pid, `task/${pid}/children`).split(" ").filter((s) => s.trim() !== "").map(Number);
  return children.flatMap((child) => [child, ...descendantsOf(child)]);
}
