import { describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { Duration, Effect, Random, Schedule } from "effect";
import { toConnectError } from "../errors.js";
import { RateLimited } from "../kit-errors.js";
import { UniverseService } from "../gen/meridian/universe/v1/universe_pb.js";
import { defaultPolicy, resolvePolicy } from "./policy.js";
import { maySendTwice, retryAfterMsOf, RetryBudget, retrySchedule } from "./retry.js";

const down = new ConnectError("down", Code.Unavailable);

/** The delays the schedule picks for retries 1..n of one call, with a given seed. */
function delaysOf(seed: string, n: number, error = down, policy = defaultPolicy.retry): Promise<number[]> {
  const schedule = retrySchedule({ ...policy, maxAttempts: n + 1 }, () => true);
  return Effect.runPromise(
    Effect.gen(function* () {
      const step = yield* Schedule.toStep(schedule);
      const delays: number[] = [];
      for (let i = 0; i < n; i++) delays.push(Duration.toMillis((yield* step(0, error))[1]));
      return delays;
    }).pipe(Random.withSeed(seed)),
  );
}

describe("backoff", () => {
  test("full jitter: the n-th retry waits in [0, min(2 s, 50 ms · 2ⁿ⁻¹))", async () => {
    const ceilings = [50, 100, 200, 400, 800, 1600, 2000, 2000];
    for (let seed = 0; seed < 50; seed++) {
      const delays = await delaysOf(`s${seed}`, ceilings.length);
      delays.forEach((delay, i) => {
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(ceilings[i]!);
      });
    }
  });

  test("the delays are spread, not fixed (jitter)", async () => {
    const firsts = new Set<number>();
    for (let seed = 0; seed < 20; seed++) firsts.add(Math.round((await delaysOf(`j${seed}`, 1))[0]!));
    expect(firsts.size).toBeGreaterThan(10);
  });

  test("a server's retry-after is a floor on the delay", async () => {
    const limited = toConnectError(new RateLimited({ retryAfterMs: 700n }), RateLimited.schema, "x");
    expect(await delaysOf("r", 2, limited)).toEqual([700, 700]);
  });

  test("the schedule stops after maxAttempts − 1 retries", async () => {
    const schedule = retrySchedule(defaultPolicy.retry, () => true);
    const steps = await Effect.runPromise(
      Effect.gen(function* () {
        const step = yield* Schedule.toStep(schedule);
        let recurred = 0;
        while ((yield* Effect.exit(step(0, down)))._tag === "Success") recurred++;
        return recurred;
      }),
    );
    expect(steps).toBe(2);
  });
});

describe("retry-after hints", () => {
  test("from a RateLimited detail", () => {
    const error = toConnectError(new RateLimited({ retryAfterMs: 1500n }), RateLimited.schema, "gateway");
    expect(retryAfterMsOf(error, 0)).toBe(1500);
  });

  test("from a retry-after header in seconds or as an HTTP date", () => {
    expect(retryAfterMsOf(new ConnectError("x", Code.Unavailable, { "retry-after": "2" }), 0)).toBe(2000);
    const now = Date.parse("2026-01-01T00:00:00Z");
    const date = new ConnectError("x", Code.Unavailable, { "retry-after": "Thu, 01 Jan 2026 00:00:03 GMT" });
    expect(retryAfterMsOf(date, now)).toBe(3000);
    expect(retryAfterMsOf(down, 0)).toBeUndefined();
  });
});

describe("what may be sent twice", () => {
  test("NO_SIDE_EFFECTS and IDEMPOTENT methods, or any call with an idempotency key", () => {
    const { getSecurity, upsertSecurity } = UniverseService.method;
    const unknown = { ...upsertSecurity, idempotency: 0 } as typeof upsertSecurity;
    expect(maySendTwice(getSecurity, new Headers())).toBe(true);
    expect(maySendTwice(upsertSecurity, new Headers())).toBe(true);
    expect(maySendTwice(unknown, new Headers())).toBe(false);
    expect(maySendTwice(unknown, new Headers({ "idempotency-key": "abc" }))).toBe(true);
  });
});

describe("retry budget", () => {
  test("starts with its reserve, then earns 0.2 of a retry per call", () => {
    const budget = new RetryBudget({ ratio: 0.2, reserve: 2 });
    expect([budget.trySpend(), budget.trySpend(), budget.trySpend()]).toEqual([true, true, false]);
    for (let i = 0; i < 4; i++) budget.earn();
    expect(budget.trySpend()).toBe(false);
    budget.earn();
    expect(budget.trySpend()).toBe(true);
  });
});

describe("policy resolution", () => {
  test("per-method overrides win over the client's, which win over the defaults", () => {
    const policy = resolvePolicy({
      timeoutMs: 2000,
      retry: { maxAttempts: 5 },
      methods: { getSecurity: { timeoutMs: 300, retry: false } },
    });
    expect([policy.timeoutMs, policy.retry.maxAttempts, policy.retry.baseDelayMs]).toEqual([2000, 5, 50]);
    expect([policy.methods.getSecurity?.timeoutMs, policy.methods.getSecurity?.retry.maxAttempts]).toEqual([300, 1]);
    const off = resolvePolicy({ breaker: false, bulkhead: false });
    expect(off).toMatchObject({ breaker: false, bulkhead: false });
    // Settings given later (e.g. from the environment) leave a policy turned off in code off, unless they set it.
    expect(resolvePolicy({ timeoutMs: 1 }, off)).toMatchObject({ breaker: false, bulkhead: false });
    expect(resolvePolicy({ breaker: { openMs: 7 } }, off).breaker).toMatchObject({ openMs: 7, consecutiveFailures: 5 });
  });
});
