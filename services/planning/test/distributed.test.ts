/**
 * End to end across processes: universe, market, scoring, portfolio, trading
 * and planning each run as their own process (remote mode between them, as in
 * compose), on one real PostgreSQL database (a schema each) and the real Redis
 * (a key prefix of this run's own). A rebalance is proposed, executed twice,
 * and the fills reach the portfolio exactly once, correct to the cent.
 */
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createMeridianClient, createNodeTransport } from "@meridian/sdk/node";
import { Planning, PlanStatus } from "@meridian/sdk/planning";
import { Portfolio, RiskProfile } from "@meridian/sdk/portfolio";
import { OrderSide, Trading } from "@meridian/sdk/trading";
import { dropRedisKeys, freePort, postgresDatabase, startService, type RunningService, type TestDatabase } from "@meridian/kit/testing";
import { eventually } from "./platform.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const keyPrefix = `test:planning-e2e:${crypto.randomUUID().slice(0, 8)}:`;

let database: TestDatabase;
const running: RunningService[] = [];
const urls: Record<string, string> = {};

const names = ["universe", "market", "scoring", "portfolio", "trading", "planning"] as const;
/** Who calls whom (as in compose). */
const calls: Record<(typeof names)[number], ReadonlyArray<string>> = {
  universe: [],
  market: ["universe"],
  scoring: ["universe", "market"],
  portfolio: ["market"],
  trading: ["universe", "market", "portfolio"],
  planning: ["universe", "market", "scoring", "portfolio", "trading"],
};


let planningProcess: RunningService;
const envOf: Record<string, Record<string, string | undefined>> = {};

/** Starts (or restarts, on the same HTTP port and data) one service process. */
function launch(name: (typeof names)[number]): Promise<RunningService> {
  return startService({ entry: `services/${name}/src/main.ts`, cwd: repoRoot, env: envOf[name]!, startTimeoutMs: 90_000 }).then((service) => {
    running.push(service);
    return service;
  });
}

beforeAll(async () => {
  database = await postgresDatabase();
  // Ports are chosen first, so every process knows its downstreams' URLs and all start at once:
  // clients connect on first call, not at start.
  const ports = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await freePort()] as const)));
  for (const n of names) urls[n] = `http://127.0.0.1:${ports[n]}`;
  for (const name of names) {
    envOf[name] = {
      ...database.env,
      HTTP_PORT: String(ports[name]),
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: keyPrefix,
      MARKET_SEED: "auto",
      ...Object.fromEntries(calls[name].map((d) => [`MERIDIAN_${d.toUpperCase()}_URL`, urls[d]!])),
    };
  }
  const started = await Promise.all(names.map(launch));
  planningProcess = started[names.indexOf("planning")]!;
}, 180_000);

afterAll(async () => {
  await Promise.all(running.map((s) => s.stop()));
  await database?.drop();
  await dropRedisKeys(redisUrl, keyPrefix);
}, 60_000);

describe("planning across processes", () => {
  test("propose (gRPC), execute twice (Connect): one order per trade; the portfolio holds exactly the plan, to the cent", async () => {
    const portfolio = createMeridianClient(Portfolio, { baseUrl: urls.portfolio! });
    const trading = createMeridianClient(Trading, { baseUrl: urls.trading! });
    const overGrpc = createMeridianClient(Planning, {
      transport: createNodeTransport({ baseUrl: planningProcess.grpcUrl, protocol: "grpc" }),
      policy: { timeoutMs: 30_000 },
    });
    const overConnect = createMeridianClient(Planning, { baseUrl: urls.planning!, policy: { timeoutMs: 30_000 } });

    const initialCash = 2_500_000n; // 25,000.00 USD
    const { account } = await portfolio.openAccount({
      owner: "e2e",
      initialCashMinor: initialCash,
      riskProfile: RiskProfile.CONSERVATIVE,
      idempotencyKey: crypto.randomUUID(),
    });
    const accountId = account!.accountId;
    const { plan } = await overGrpc.proposeRebalance({ accountId });
    expect(plan!.trades.length).toBeGreaterThan(0);

    const first = await overConnect.executePlan({ planId: plan!.planId });
    const second = await overGrpc.executePlan({ planId: plan!.planId });
    expect(second.orders.map((o) => o.orderId)).toEqual(first.orders.map((o) => o.orderId));
    expect(second.plan!.status).toBe(PlanStatus.EXECUTED);
    const { orders } = await trading.listOrders({ accountId, page: { pageSize: 500 } });
    expect(orders.length).toBe(plan!.trades.length);

    // Proposed at once, with the fills still on their way through Redis: planning waits for the
    // portfolio to apply them, so the new plan sees the positions and trades nothing.
    const { plan: next } = await overConnect.proposeRebalance({ accountId });
    expect(next!.trades).toEqual([]);

    // Every fill applied once: cash = initial − Σ (gross + fee) of the buys; shares = the plan's quantities.
    const fills = first.orders.flatMap((o) => o.fills.map((f) => ({ side: o.side, ...f })));
    const spent = fills.reduce((sum, f) => sum + (f.side === OrderSide.BUY ? f.grossAmountMinor + f.feeMinor : -(f.grossAmountMinor - f.feeMinor)), 0n);
    const state = await eventually(
      async () => {
        const { portfolio: p } = await portfolio.getPortfolio({ accountId });
        return p!.fillsApplied >= BigInt(fills.length) ? p! : undefined;
      },
      20_000,
      "portfolio to apply the fills",
    );
    expect(state.fillsApplied).toBe(BigInt(fills.length));
    expect(state.cashMinor).toBe(initialCash - spent);
    expect(state.cashMinor).toBeGreaterThan(0n);
    expect(Object.fromEntries(state.positions.map((p) => [p.symbol, p.quantity]))).toEqual(
      Object.fromEntries(plan!.trades.map((t) => [t.symbol, t.quantity])),
    );
  }, 60_000);

  test("curl: ProposeRebalance and GetPlan as Connect JSON, an unknown plan as not_found", async () => {
    const portfolio = createMeridianClient(Portfolio, { baseUrl: urls.portfolio! });
    const { account } = await portfolio.openAccount({ owner: "curl", initialCashMinor: 1_000_000n, riskProfile: RiskProfile.AGGRESSIVE, idempotencyKey: crypto.randomUUID() });
    const curl = (method: string, body: object) => {
      const out = Bun.spawnSync([
        "curl", "-s", "-X", "POST", `${urls.planning}/meridian.planning.v1.PlanningService/${method}`,
        "-H", "content-type: application/json", "-d", JSON.stringify(body),
      ]);
      return JSON.parse(out.stdout.toString()) as Record<string, any>;
    };
    const proposed = curl("ProposeRebalance", { accountId: account!.accountId });
    expect(proposed.plan.status).toBe("PLAN_STATUS_PROPOSED");
    expect(proposed.plan.riskProfile).toBe("RISK_PROFILE_AGGRESSIVE");
    expect(proposed.plan.trades[0].side).toBe("ORDER_SIDE_BUY");
    const read = curl("GetPlan", { planId: proposed.plan.planId });
    expect(read.plan).toEqual(proposed.plan);
    const missing = curl("GetPlan", { planId: "nope" });
    expect(missing.code).toBe("not_found");
    // GetPlan has no side effects: Connect GET answers it too.
    const message = encodeURIComponent(JSON.stringify({ planId: proposed.plan.planId }));
    const get = Bun.spawnSync(["curl", "-s", `${urls.planning}/meridian.planning.v1.PlanningService/GetPlan?encoding=json&message=${message}`]);
    expect(JSON.parse(get.stdout.toString()).plan).toEqual(proposed.plan);
    // gRPC, as the README shows it with buf curl.
    const grpc = Bun.spawnSync(
      [
        `${repoRoot}node_modules/.bin/buf`, "curl", "--protocol", "grpc", "--http2-prior-knowledge", "--schema", "proto",
        "-d", JSON.stringify({ planId: proposed.plan.planId }),
        `${planningProcess.grpcUrl}/meridian.planning.v1.PlanningService/GetPlan`,
      ],
      { cwd: repoRoot },
    );
    expect(grpc.exitCode).toBe(0);
    expect(JSON.parse(grpc.stdout.toString()).plan.planId).toBe(proposed.plan.planId);
  }, 30_000);

  test("planning killed (SIGKILL) in the middle of an execution, restarted: executing again places nothing twice", async () => {
    const portfolio = createMeridianClient(Portfolio, { baseUrl: urls.portfolio! });
    const trading = createMeridianClient(Trading, { baseUrl: urls.trading! });
    const client = () => createMeridianClient(Planning, { baseUrl: urls.planning!, policy: { timeoutMs: 30_000, retry: { maxAttempts: 1 } } });
    const { account } = await portfolio.openAccount({
      owner: "crash",
      initialCashMinor: 5_000_000n,
      riskProfile: RiskProfile.AGGRESSIVE,
      idempotencyKey: crypto.randomUUID(),
    });
    const accountId = account!.accountId;
    const { plan } = await client().proposeRebalance({ accountId });
    const planned = async () =>
      (await trading.listOrders({ accountId, page: { pageSize: 500 } })).orders.filter((o) => o.idempotencyKey.startsWith(`plan:${plan!.planId}:`));

    const execution = client().executePlan({ planId: plan!.planId }).then(() => "finished", () => "cut off");
    // The moment trading holds the plan's first order, the planning process dies without a word.
    await eventually(async () => ((await planned()).length > 0 ? true : undefined), 20_000, "the first planned order");
    planningProcess.signal("SIGKILL");
    const atKill = (await planned()).length;
    await planningProcess.exited;
    await execution;
    console.error(`planning killed with ${atKill} of ${plan!.trades.length} planned orders placed`);

    planningProcess = await launch("planning");
    const { orders, plan: executed } = await client().executePlan({ planId: plan!.planId });
    expect(executed!.status).toBe(PlanStatus.EXECUTED);
    const held = await planned();
    expect(held.length).toBe(plan!.trades.length);
    expect(new Set(held.map((o) => o.orderId))).toEqual(new Set(orders.map((o) => o.orderId)));
    expect(orders.map((o) => o.idempotencyKey)).toEqual(plan!.trades.map((_, i) => `plan:${plan!.planId}:${i}`));
  }, 120_000);
});
