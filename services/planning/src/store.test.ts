/**
 * The plan store against the real PostgreSQL, in a schema of its own.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Effect, Layer, ManagedRuntime } from "effect";
import postgres from "postgres";
import { layerMigratedDatabase } from "@meridian/kit/postgres";
import { adminUrl } from "@meridian/kit/testing";
import { Regime } from "@meridian/sdk/market";
import { PlanStatus } from "@meridian/sdk/planning";
import { RiskProfile } from "@meridian/sdk/portfolio";
import { OrderSide } from "@meridian/sdk/trading";
import { migrationsDir } from "./service.js";
import { layerPlanStore, PlanStore, type PlanRecord } from "./store.js";

const schema = `planning_test_${process.pid}_${Date.now().toString(36)}`;
const runtime = ManagedRuntime.make(
  layerPlanStore.pipe(Layer.provide(layerMigratedDatabase({ databaseUrl: adminUrl, dataDir: "", schema, migrationsDir }))),
);
const withStore = <A, E>(f: (store: PlanStore["Service"]) => Effect.Effect<A, E>) =>
  runtime.runPromise(Effect.flatMap(Effect.service(PlanStore), f));

beforeAll(async () => {
  await withStore(() => Effect.void);
}, 30_000);

afterAll(async () => {
  await runtime.dispose();
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin`drop schema if exists ${admin(schema)} cascade`;
  await admin.end();
});

const plan = (planId: string): PlanRecord => ({
  planId,
  accountId: "acct-1",
  status: PlanStatus.PROPOSED,
  regime: Regime.CRISIS,
  riskProfile: RiskProfile.BALANCED,
  currency: "USD",
  allocation: { holdings: 4, cashFloorBps: 5500 },
  cashMinor: 820_092n,
  cashFloorMinor: 5_500_000n,
  // Beyond 2^53: int8 must round-trip exactly.
  totalValueMinor: 9_007_199_254_740_993n,
  estimatedCashAfterMinor: 5_511_779n,
  targets: [
    { symbol: "A", score: 90.25, targetWeight: 0.1125, currentWeight: 0.092 },
    { symbol: "E", score: 0, targetWeight: 0, currentWeight: 0.092 },
  ],
  trades: [
    { symbol: "E", side: OrderSide.SELL, quantity: 92n, referencePriceMicros: 100_000_000n, estimatedAmountMinor: 920_000n, orderId: undefined },
    { symbol: "A", side: OrderSide.BUY, quantity: 20n, referencePriceMicros: 100_000_000n, estimatedAmountMinor: 200_000n, orderId: undefined },
  ],
  createdAt: new Date("2026-11-25T12:00:00.123Z"),
  executedAt: undefined,
  fillsAppliedBefore: 7n,
  fillCount: undefined,
});

describe("plan store on PostgreSQL", () => {
  test("a plan reads back exactly as written, targets and trades in order", async () => {
    await withStore((s) => s.insert(plan("p-roundtrip")));
    expect(await withStore((s) => s.get("p-roundtrip"))).toEqual(plan("p-roundtrip"));
    expect(await withStore((s) => s.get("p-missing"))).toBeUndefined();
  });

  test("the first order recorded for a trade stays; execution keeps its first time; the fill count only grows", async () => {
    expect(await withStore((s) => s.fillsExpected("acct-1"))).toBeUndefined();
    await withStore((s) => s.insert(plan("p-exec")));
    await withStore((s) => s.recordOrder("p-exec", 1, "order-1"));
    await withStore((s) => s.recordOrder("p-exec", 1, "order-other"));
    const first = await withStore((s) => s.markExecuted("p-exec", 2n));
    await Bun.sleep(5);
    const second = await withStore((s) => s.markExecuted("p-exec", 5n));
    expect(second).toEqual(first);
    const read = await withStore((s) => s.get("p-exec"));
    expect(read?.trades.map((t) => t.orderId)).toEqual([undefined, "order-1"]);
    expect(read?.status).toBe(PlanStatus.EXECUTED);
    expect(read?.executedAt).toEqual(first);
    expect(read?.fillCount).toBe(5n);
    // The portfolio must have applied the 7 fills it had when the plan was proposed, and its 5.
    expect(await withStore((s) => s.fillsExpected("acct-1"))).toBe(12n);
    // A count recorded half-way never lowers it.
    await withStore((s) => s.recordFills("p-exec", 1n));
    expect((await withStore((s) => s.get("p-exec")))?.fillCount).toBe(5n);
    expect(await withStore((s) => s.fillsExpected("acct-other"))).toBeUndefined();
  });

  test("a plan id is written once: a second insert with it fails and changes nothing", async () => {
    await withStore((s) => s.insert(plan("p-once")));
    const exit = await runtime.runPromiseExit(Effect.flatMap(Effect.service(PlanStore), (s) => s.insert({ ...plan("p-once"), accountId: "other" })));
    expect(exit._tag).toBe("Failure");
    expect((await withStore((s) => s.get("p-once")))?.accountId).toBe("acct-1");
  });
});
