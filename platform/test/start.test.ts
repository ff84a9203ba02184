/**
 * `bun start` as the README's first line runs it on a fresh machine: every service in one process
 * on embedded defaults (PGlite under the data folder, in-process cache and events, no
 * DATABASE_URL or REDIS_URL), and the curl lines it prints run, as printed, by a shell with the
 * real curl: an account is opened and a trading cycle fills its orders. SIGTERM stops it cleanly;
 * started again on the same data folder, the account and its positions are still there.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@meridian/kit/testing";
import { launch } from "./platform-processes.js";

const dataDir = mkdtempSync(join(tmpdir(), "meridian-start-"));
let launcher: Bun.Subprocess<"ignore", "pipe", "pipe"> | undefined;

afterAll(async () => {
  if (launcher !== undefined && launcher.exitCode === null) {
    launcher.kill("SIGKILL");
    await launcher.exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

/** The environment of a fresh machine: nothing of the test run's own databases, Redis or downstream URLs. */
function freshEnvironment(ports: { http: number; grpc: number }): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (["DATABASE_URL", "REDIS_URL", "REDIS_KEY_PREFIX", "GATEWAY_DEV_API_KEY", "LOG_LEVEL"].includes(name)) continue;
    if (/^MERIDIAN_.*_URL$/.test(name)) continue;
    env[name] = value;
  }
  return { ...env, MERIDIAN_DATA_DIR: dataDir, HTTP_PORT: String(ports.http), GRPC_PORT: String(ports.grpc) };
}

/** Starts `bun start` and returns what it announced on stderr, once the last curl line is out. */
async function start(ports: { http: number; grpc: number }): Promise<string> {
  const launched = await launch("start", freshEnvironment(ports), /GetPortfolio.*\n/, 180_000);
  launcher = launched.process;
  if (!launched.announced.includes("Try a trading cycle")) throw new Error(`bun start did not announce itself:\n${launched.announced}`);
  return launched.announced;
}

/** Stops the launcher as Ctrl-C does and returns its exit code. */
async function stop(): Promise<number> {
  launcher!.kill("SIGTERM");
  return await Promise.race([launcher!.exited, Bun.sleep(60_000).then(() => -1)]);
}

/** Runs shell lines as a user pastes them, returning each JSON answer curl printed. */
async function runInShell(lines: ReadonlyArray<string>): Promise<Array<Record<string, any>>> {
  // One answer per line: curl -s prints the body without a newline.
  const script = lines.map((line) => (line.startsWith("curl") ? `${line}; echo` : line)).join("\n");
  const shell = Bun.spawn(["bash", "-c", script], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(shell.stdout).text(), new Response(shell.stderr).text(), shell.exited]);
  if (code !== 0) throw new Error(`the printed lines failed (${code}): ${err}`);
  return out
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, any>);
}

test("bun start on embedded defaults: the printed curl lines run a trading cycle, and data outlives a restart", async () => {
  const ports = { http: await freePort(), grpc: await freePort() };
  const announced = await start(ports);
  expect(announced).toContain(`HTTP/1.1 (Connect JSON and binary, gRPC-Web): http://127.0.0.1:${ports.http}`);
  expect(announced).toContain(`http://127.0.0.1:${ports.http}/status/`);

  // The lines under "Try a trading cycle", exactly as printed.
  const tryLines = announced
    .slice(announced.indexOf("Try a trading cycle"))
    .split("\n")
    .slice(1)
    .map((l) => l.trim())
    .filter((l) => l !== "");
  expect(tryLines[0]).toMatch(/^KEY=mk_/);
  const [cycle, portfolio] = await runInShell(tryLines);

  expect(cycle!.code).toBeUndefined();
  const orders = cycle!.orders as Array<{ status: string; quantity: string; filledQuantity: string }>;
  expect(orders.length).toBeGreaterThan(0);
  for (const order of orders) {
    expect(order.status).toBe("ORDER_STATUS_FILLED");
    expect(order.filledQuantity).toBe(order.quantity);
  }
  expect(portfolio!.code).toBeUndefined();

  // Fills reach the portfolio through the outbox and the in-process bus: wait until all are applied.
  const key = tryLines[0]!.slice("KEY=".length);
  const accountId = (cycle!.plan as { accountId: string }).accountId;
  const portfolioOf = async () => {
    const response = await fetch(`http://127.0.0.1:${ports.http}/meridian.gateway.v1.GatewayService/GetPortfolio`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ accountId }),
    });
    expect(response.status).toBe(200);
    return JSON.stringify(await response.json());
  };
  const fillsApplied = (state: string) => Number(/"fillsApplied":"(\d+)"/.exec(state)?.[1] ?? 0);
  let before = await portfolioOf();
  for (const deadline = Date.now() + 30_000; fillsApplied(before) < orders.length && Date.now() < deadline; ) {
    await Bun.sleep(200);
    before = await portfolioOf();
  }
  expect(fillsApplied(before)).toBe(orders.length);

  expect(await stop()).toBe(0);

  // Started again on the same data folder: the same key answers with the same account, as it was.
  await start(ports);
  const after = await portfolioOf();
  expect(fillsApplied(after)).toBe(orders.length);
  expect(/"cashMinor":"(\d+)"/.exec(after)?.[1]).toBe(/"cashMinor":"(\d+)"/.exec(before)?.[1]);
  expect(await stop()).toBe(0);
}, 420_000);
