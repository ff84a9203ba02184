/**
 * `bun run start:distributed`: every service as its own process against the real PostgreSQL
 * (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/meridian, created if missing) and
 * Redis (REDIS_URL, default redis://127.0.0.1:6379), in dependency order, each started once its
 * downstreams are ready. Ctrl-C (or SIGTERM) stops them in reverse order.
 */
import postgres from "postgres";
import { portsOf, processEnvironment, topology, waitUntilReady, type SharedEnvironment } from "./distributed.js";

const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/meridian";
const shared: SharedEnvironment = {
  DATABASE_URL: databaseUrl,
  REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  REDIS_KEY_PREFIX: process.env.REDIS_KEY_PREFIX ?? "meridian:",
  // The allocator's settings given here win over the kit's (`@meridian/kit/allocator`).
  ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith("MIMALLOC_"))),
};

await ensureDatabase(databaseUrl);

const running: Array<{ name: string; proc: Bun.Subprocess }> = [];
let stopping = false;

async function stopAll(code: number): Promise<never> {
  stopping = true;
  for (const { name, proc } of running.reverse()) {
    proc.kill("SIGTERM");
    const exited = await Promise.race([proc.exited, Bun.sleep(15_000).then(() => undefined)]);
    if (exited === undefined) {
      process.stderr.write(`${name} did not stop in 15 s; killing it\n`);
      proc.kill("SIGKILL");
    }
  }
  process.exit(code);
}
process.once("SIGINT", () => void stopAll(0));
process.once("SIGTERM", () => void stopAll(0));

for (const node of topology) {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...processEnvironment(node, shared) })) if (v !== undefined) env[k] = v;
  const proc = Bun.spawn([process.execPath, "run", node.entry], { env, stdin: "ignore", stdout: "inherit", stderr: "inherit" });
  running.push({ name: node.name, proc });
  void proc.exited.then((code) => {
    if (stopping) return;
    process.stderr.write(`${node.name} exited with code ${code}; stopping the platform\n`);
    void stopAll(1);
  });
  try {
    await waitUntilReady(`http://127.0.0.1:${portsOf(node).http}`, 120_000, () => proc.exitCode === null);
  } catch (e) {
    process.stderr.write(`${node.name}: ${e instanceof Error ? e.message : String(e)}\n`);
    await stopAll(1);
  }
}

const gateway = topology.find((n) => n.name === "gateway")!;
process.stderr.write(
  [
    "",
    "Meridian is running distributed (one process per service, gRPC between them):",
    ...topology.map((n) => `  ${n.name.padEnd(10)} http://127.0.0.1:${portsOf(n).http}   grpc http://127.0.0.1:${portsOf(n).grpc}`),
    `  status page: http://127.0.0.1:${portsOf(gateway).http}/`,
    "",
  ].join("\n") + "\n",
);

async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = "/postgres";
  const sql = postgres(admin.toString(), { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    const [row] = await sql`select 1 as present from pg_database where datname = ${name}`;
    if (row === undefined) await sql`create database ${sql(name)}`;
  } catch (e) {
    process.stderr.write(`PostgreSQL at ${target.host} (DATABASE_URL): ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  } finally {
    await sql.end({ timeout: 1 });
  }
}
