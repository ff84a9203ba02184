/**
 * The policies together, on scripted transports and Effect's TestClock: no
 * network, no sleeping; time moves only when a test says so.
 */
import { describe, expect, test } from "bun:test";
import { create, type DescMethodUnary } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { Effect, Exit, Fiber, Random } from "effect";
import { TestClock } from "effect/testing";
import { toConnectError } from "../errors.js";
import { RateLimited } from "../kit-errors.js";
import { UniverseService } from "../gen/meridian/universe/v1/universe_pb.js";
import {
  answer,
  fail,
  hang,
  scriptedTransport,
  unavailable,
  type ScriptedTransport,
} from "../test-fixtures/scripted-transport.js";
import type { CallEnded, RetryScheduled } from "./hooks.js";
import type { PolicyOptions } from "./policy.js";
import { createResilientTransport, type ResilientTransport } from "./resilient-transport.js";

const getSecurity = UniverseService.method.getSecurity; // NO_SIDE_EFFECTS
const upsertSecurity = UniverseService.method.upsertSecurity; // IDEMPOTENT
/** The same method with no idempotency declared: not safe to send twice. */
const createSecurity = {
  ...upsertSecurity,
  localName: "createSecurity",
  idempotency: MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN,
} as typeof upsertSecurity;

function resilient(endpoints: ScriptedTransport[], policy: PolicyOptions = {}, hooks = {}): ResilientTransport {
  return createResilientTransport({
    downstream: "universe",
    endpoints: endpoints.map((transport, i) => ({ url: `http://e${i}`, transport })),
    policy,
    hooks,
  });
}

function call(
  transport: ResilientTransport,
  method: DescMethodUnary = getSecurity,
  options: { timeoutMs?: number; header?: HeadersInit } = {},
) {
  return transport.unaryEffect(method, options.timeoutMs, options.header, create(method.input));
}

/** Runs a test program under a TestClock (time starts at 0 and moves only on `TestClock.adjust`) with seeded randomness. */
function withTestClock<A, E>(program: Effect.Effect<A, E>): Promise<A> {
  return Effect.runPromise(program.pipe(Random.withSeed("policies"), Effect.provide(TestClock.layer())));
}

/** Lets forked fibers and settled promises run without moving the clock. */
const settle = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 0)));

describe("deadline", () => {
  test("every call carries the default 5 s deadline downstream", async () => {
    const endpoint = scriptedTransport();
    await withTestClock(call(resilient([endpoint])));
    expect(endpoint.calls[0]?.timeoutMs).toBe(5000);
  });

  test("a call's own timeout replaces the default, per-method overrides apply", async () => {
    const endpoint = scriptedTransport();
    const transport = resilient([endpoint], { methods: { upsertSecurity: { timeoutMs: 800 } } });
    await withTestClock(call(transport, getSecurity, { timeoutMs: 120 }));
    await withTestClock(call(transport, upsertSecurity));
    expect(endpoint.calls.map((c) => c.timeoutMs)).toEqual([120, 800]);
  });

  test("a retry carries only what is left of the deadline", async () => {
    const endpoint = scriptedTransport();
    endpoint.script(fail(Code.Unavailable, "down", retryAfter(300)));
    await withTestClock(
      Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(call(resilient([endpoint]), getSecurity, { timeoutMs: 1000 }));
        yield* settle;
        yield* TestClock.adjust(300);
        yield* Fiber.join(fiber);
      }),
    );
    expect(endpoint.calls.map((c) => c.timeoutMs)).toEqual([1000, 700]);
  });

  test("a call whose deadline has already passed is not sent", async () => {
    const endpoint = scriptedTransport();
    const error = await withTestClock(Effect.flip(call(resilient([endpoint]), getSecurity, { timeoutMs: 0 })));
    expect(error.code).toBe(Code.DeadlineExceeded);
    expect(endpoint.calls).toHaveLength(0);
  });
});

describe("retry", () => {
  test("an idempotent call that fails twice with unavailable succeeds on the third attempt", async () => {
    const endpoint = scriptedTransport();
    endpoint.script(unavailable, unavailable, answer);
    const retries: RetryScheduled[] = [];
    await withTestClock(
      Effect.gen(function* () {
        const transport = resilient([endpoint], {}, { onRetry: (e: RetryScheduled) => retries.push(e) });
        const fiber = yield* Effect.forkChild(call(transport, upsertSecurity));
        yield* settle;
        yield* TestClock.adjust(50); // first backoff: at most 50 ms
        yield* settle;
        yield* TestClock.adjust(100); // second: at most 100 ms
        yield* Fiber.join(fiber);
      }),
    );
    expect(endpoint.calls).toHaveLength(3);
    expect(retries.map((r) => r.attempt)).toEqual([1, 2]);
    expect(retries[0]!.delayMs).toBeLessThan(50);
    expect(retries[1]!.delayMs).toBeLessThan(100);
  });

  test("a call of a method with side effects is sent once", async () => {
    const endpoint = scriptedTransport(unavailable);
    const error = await withTestClock(Effect.flip(call(resilient([endpoint]), createSecurity)));
    expect(error.code).toBe(Code.Unavailable);
    expect(endpoint.calls).toHaveLength(1);
  });

  test("an idempotency key makes any call retryable", async () => {
    const endpoint = scriptedTransport();
    endpoint.script(unavailable, answer);
    await withTestClock(
      Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(
          call(resilient([endpoint]), createSecurity, { header: { "idempotency-key": "k-1" } }),
        );
        yield* settle;
        yield* TestClock.adjust(50);
        yield* Fiber.join(fiber);
      }),
    );
    expect(endpoint.calls).toHaveLength(2);
  });

  test("only unavailable, resource_exhausted and aborted are retried", async () => {
    for (const [code, attempts] of [
      [Code.NotFound, 1],
      [Code.Internal, 1],
      [Code.Aborted, 3],
      [Code.ResourceExhausted, 3],
    ] as const) {
      const endpoint = scriptedTransport(fail(code));
      await withTestClock(
        Effect.gen(function* () {
          const fiber = yield* Effect.forkChild(Effect.exit(call(resilient([endpoint], { breaker: false }))));
          for (let i = 0; i < 3; i++) {
            yield* settle;
            yield* TestClock.adjust(100);
          }
          yield* Fiber.join(fiber);
        }),
      );
      expect([code, endpoint.calls.length]).toEqual([code, attempts]);
    }
  });

  test("after the last attempt the call fails with RetriesExhausted, naming the attempts and the last error", async () => {
    const endpoint = scriptedTransport(unavailable);
    const error = await withTestClock(
      Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(Effect.flip(call(resilient([endpoint]))));
        yield* settle;
        yield* TestClock.adjust(50);
        yield* settle;
        yield* TestClock.adjust(100);
        return yield* Fiber.join(fiber);
      }),
    );
    expect(endpoint.calls).toHaveLength(3);
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toBe("3 attempts failed; last: [unavailable] down");
  });

  test("a retry never waits past the deadline: the call fails at once instead", async () => {
    const endpoint = scriptedTransport(fail(Code.Unavailable, "down", retryAfter(500)));
    const error = await withTestClock(Effect.flip(call(resilient([endpoint]), getSecurity, { timeoutMs: 200 })));
    expect(endpoint.calls).toHaveLength(1);
    expect(error.rawMessage).toBe("down");
  });

  test("a RateLimited retry_after_ms is honoured: no retry before it", async () => {
    const limited = toConnectError(new RateLimited({ retryAfterMs: 400n }), RateLimited.schema, "universe");
    const endpoint = scriptedTransport();
    endpoint.script(fail(Code.ResourceExhausted, "", limited), answer);
    await withTestClock(
      Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(call(resilient([endpoint])));
        yield* settle;
        yield* TestClock.adjust(399);
        yield* settle;
        expect(endpoint.calls).toHaveLength(1);
        yield* TestClock.adjust(1);
        yield* Fiber.join(fiber);
      }),
    );
    expect(endpoint.calls).toHaveLength(2);
  });

  test("the retry budget keeps retries near 20% of calls when everything fails", async () => {
    const endpoint = scriptedTransport(unavailable);
    const transport = resilient([endpoint], { breaker: false, retry: { baseDelayMs: 0 } });
    await withTestClock(Effect.forEach(Array.from({ length: 200 }), () => Effect.exit(call(transport)), { discard: true }));
    const retries = endpoint.calls.length - 200;
    // The reserve (10) plus 20% of the calls.
    expect(retries).toBeGreaterThanOrEqual(40);
    expect(retries).toBeLessThanOrEqual(50);
  });

  test("a downstream that already gave up (RetriesExhausted, CircuitOpen) is not retried again", async () => {
    const endpoint = scriptedTransport();
    const upstream = resilient([endpoint], {}, {});
    // What a downstream's own client passes on when its retries ran out.
    const exhausted = await withTestClock(
      Effect.gen(function* () {
        const inner = scriptedTransport(unavailable);
        const fiber = yield* Effect.forkChild(Effect.flip(call(resilient([inner]))));
        for (let i = 0; i < 2; i++) {
          yield* settle;
          yield* TestClock.adjust(100);
        }
        return yield* Fiber.join(fiber);
      }),
    );
    endpoint.otherwise = fail(exhausted.code, exhausted.rawMessage, exhausted);
    await withTestClock(Effect.exit(call(upstream)));
    expect(endpoint.calls).toHaveLength(1);
  });
});

describe("circuit breaker", () => {
  const breaker = { consecutiveFailures: 3, openMs: 1000 };

  test("a dead endpoint opens its breaker after N failures; then calls fail fast with CircuitOpen, unsent", async () => {
    const endpoint = scriptedTransport(unavailable);
    const transport = resilient([endpoint], { breaker, retry: false });
    const errors = await withTestClock(Effect.forEach([1, 2, 3, 4, 5], () => Effect.flip(call(transport))));
    expect(endpoint.calls).toHaveLength(3);
    expect(errors.map((e) => e.code)).toEqual(Array(5).fill(Code.Unavailable));
    expect(errors[4]!.rawMessage).toBe("circuit open for http://e0");
    expect(transport.state().endpoints[0]?.breaker).toBe("open");
  });

  test("after the pause one probe goes; its success closes the breaker", async () => {
    const endpoint = scriptedTransport(unavailable);
    const transitions: string[] = [];
    const transport = resilient([endpoint], { breaker, retry: false }, {
      onBreakerTransition: (e: { from: string; to: string }) => transitions.push(`${e.from}->${e.to}`),
    });
    await withTestClock(
      Effect.gen(function* () {
        for (let i = 0; i < 3; i++) yield* Effect.exit(call(transport));
        yield* TestClock.adjust(999);
        expect((yield* Effect.flip(call(transport))).rawMessage).toContain("circuit open");
        yield* TestClock.adjust(1);
        endpoint.otherwise = answer;
        yield* call(transport);
        yield* call(transport);
      }),
    );
    expect(endpoint.calls).toHaveLength(5);
    expect(transitions).toEqual(["closed->open", "open->half_open", "half_open->closed"]);
  });

  test("a failed probe opens it again for another pause", async () => {
    const endpoint = scriptedTransport(unavailable);
    const transport = resilient([endpoint], { breaker, retry: false });
    await withTestClock(
      Effect.gen(function* () {
        for (let i = 0; i < 3; i++) yield* Effect.exit(call(transport));
        yield* TestClock.adjust(1000);
        yield* Effect.exit(call(transport)); // the probe fails
        expect(transport.state().endpoints[0]?.breaker).toBe("open");
        yield* Effect.exit(call(transport)); // refused
      }),
    );
    expect(endpoint.calls).toHaveLength(4);
  });

  test("domain errors are answers: they never open the breaker", async () => {
    const endpoint = scriptedTransport(fail(Code.NotFound));
    const transport = resilient([endpoint], { breaker, retry: false });
    await withTestClock(Effect.forEach(Array.from({ length: 10 }), () => Effect.exit(call(transport))));
    expect(endpoint.calls).toHaveLength(10);
    expect(transport.state().endpoints[0]?.breaker).toBe("closed");
  });

  test("a failure rate over the window opens it even without N failures in a row", async () => {
    const endpoint = scriptedTransport();
    const transport = resilient([endpoint], {
      breaker: { consecutiveFailures: 100, failureRate: 0.5, minimumCalls: 10, windowMs: 10_000 },
      retry: false,
    });
    for (let i = 0; i < 6; i++) endpoint.script(answer, unavailable);
    await withTestClock(Effect.forEach(Array.from({ length: 12 }), () => Effect.exit(call(transport))));
    expect(transport.state().endpoints[0]?.breaker).toBe("open");
  });

  test("failures older than the window no longer count toward the rate", async () => {
    const endpoint = scriptedTransport();
    const transport = resilient([endpoint], {
      breaker: { consecutiveFailures: 100, failureRate: 0.5, minimumCalls: 10, windowMs: 10_000 },
      retry: false,
    });
    for (let i = 0; i < 4; i++) endpoint.script(answer, unavailable);
    await withTestClock(
      Effect.gen(function* () {
        for (let i = 0; i < 8; i++) yield* Effect.exit(call(transport));
        yield* TestClock.adjust(11_000);
        endpoint.script(answer, answer, answer, answer, unavailable, unavailable);
        for (let i = 0; i < 6; i++) yield* Effect.exit(call(transport));
      }),
    );
    expect(transport.state().endpoints[0]?.breaker).toBe("closed");
  });
});

describe("bulkhead", () => {
  test("beyond N in flight and a full queue, a call fails at once with BulkheadFull", async () => {
    const endpoint = scriptedTransport(hang);
    const transport = resilient([endpoint], { bulkhead: { maxConcurrent: 2, maxQueue: 1 } });
    await withTestClock(
      Effect.gen(function* () {
        const running = yield* Effect.forEach([1, 2, 3], () => Effect.forkChild(call(transport)));
        yield* settle;
        expect(transport.state().bulkhead).toEqual({ active: 2, queued: 1 });
        const error = yield* Effect.flip(call(transport));
        expect(error.code).toBe(Code.ResourceExhausted);
        expect(error.rawMessage).toBe("bulkhead full for universe");
        // A slot frees: the queued call goes.
        endpoint.calls[0]!.release();
        yield* settle;
        expect(endpoint.calls).toHaveLength(3);
        endpoint.calls[1]!.release();
        endpoint.calls[2]!.release();
        yield* Effect.forEach(running, Fiber.join);
      }),
    );
    expect(transport.state().bulkhead).toEqual({ active: 0, queued: 0 });
  });

  test("a queued call gives up at its deadline", async () => {
    const endpoint = scriptedTransport(hang);
    const transport = resilient([endpoint], { bulkhead: { maxConcurrent: 1, maxQueue: 5 } });
    const error = await withTestClock(
      Effect.gen(function* () {
        yield* Effect.forkChild(call(transport));
        const queued = yield* Effect.forkChild(Effect.flip(call(transport, getSecurity, { timeoutMs: 300 })));
        yield* settle;
        yield* TestClock.adjust(300);
        return yield* Fiber.join(queued);
      }),
    );
    expect(error.code).toBe(Code.DeadlineExceeded);
    expect(endpoint.calls).toHaveLength(1);
  });
});

describe("load balancing", () => {
  test("round robin spreads calls evenly over the endpoints", async () => {
    const endpoints = [scriptedTransport(), scriptedTransport(), scriptedTransport()];
    const transport = resilient(endpoints);
    await withTestClock(Effect.forEach(Array.from({ length: 9 }), () => call(transport)));
    expect(endpoints.map((e) => e.calls.length)).toEqual([3, 3, 3]);
  });

  test("an endpoint whose breaker is open is skipped", async () => {
    const endpoints = [scriptedTransport(), scriptedTransport(unavailable), scriptedTransport()];
    const transport = resilient(endpoints, { breaker: { consecutiveFailures: 2 }, retry: { baseDelayMs: 0 } });
    await withTestClock(Effect.forEach(Array.from({ length: 30 }), () => call(transport)));
    expect(endpoints[1]!.calls).toHaveLength(2);
    expect(endpoints[0]!.calls.length + endpoints[2]!.calls.length).toBe(30);
  });

  test("least outstanding sends the next call to the least busy endpoint", async () => {
    const busy = scriptedTransport(hang);
    const idle = scriptedTransport();
    const transport = resilient([busy, idle], { balancer: "least_outstanding" });
    await withTestClock(
      Effect.gen(function* () {
        yield* Effect.forkChild(call(transport));
        yield* Effect.forkChild(call(transport));
        yield* settle;
        yield* Effect.forEach([1, 2, 3, 4], () => call(transport));
      }),
    );
    expect(busy.calls).toHaveLength(1);
    expect(idle.calls).toHaveLength(5);
  });

  test("when every endpoint's breaker is open the call fails with CircuitOpen naming them", async () => {
    const endpoints = [scriptedTransport(unavailable), scriptedTransport(unavailable)];
    const transport = resilient(endpoints, { breaker: { consecutiveFailures: 1 }, retry: false });
    const errors = await withTestClock(Effect.forEach([1, 2, 3], () => Effect.flip(call(transport))));
    expect(errors[2]!.rawMessage).toBe("circuit open for http://e0,http://e1");
  });
});

describe("hooks and the Promise face", () => {
  test("onCallEnded reports every call with its outcome, attempts and endpoint", async () => {
    const ended: CallEnded[] = [];
    const endpoint = scriptedTransport();
    endpoint.script(fail(Code.NotFound));
    const transport = resilient([endpoint], {}, { onCallEnded: (e: CallEnded) => ended.push(e) });
    await withTestClock(Effect.exit(call(transport, getSecurity, { header: { "x-request-id": "r-1" } })));
    await withTestClock(call(transport));
    expect(ended.map((e) => [e.error?.code, e.attempts, e.endpoint])).toEqual([
      [Code.NotFound, 1, "http://e0"],
      [undefined, 1, "http://e0"],
    ]);
    expect(new Headers(ended[0]!.requestHeader).get("x-request-id")).toBe("r-1");
  });

  test("the Promise face rejects with the same ConnectError, and `canceled` when its signal aborts", async () => {
    const endpoint = scriptedTransport();
    endpoint.script(fail(Code.NotFound, "no such symbol"), hang);
    const transport = resilient([endpoint]);
    const input = create(getSecurity.input);
    const failed = await transport.unary(getSecurity, undefined, undefined, undefined, input).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(ConnectError);
    expect((failed as ConnectError).code).toBe(Code.NotFound);

    const controller = new AbortController();
    const pending = transport.unary(getSecurity, controller.signal, undefined, undefined, input).catch((e: unknown) => e);
    await Bun.sleep(0);
    controller.abort();
    expect(((await pending) as ConnectError).code).toBe(Code.Canceled);
    expect(endpoint.calls[1]?.aborted).toBe(true);
  });

  test("the Promise face retries, queues and refuses as the Effect face does", async () => {
    const flaky = scriptedTransport();
    flaky.script(unavailable, unavailable, answer);
    const input = create(upsertSecurity.input);
    const retried = resilient([flaky], { retry: { baseDelayMs: 1 } });
    await retried.unary(upsertSecurity, undefined, undefined, undefined, input);
    expect(flaky.calls).toHaveLength(3);

    const once = scriptedTransport(unavailable);
    const error = (await resilient([once], { retry: { baseDelayMs: 1 } })
      .unary(createSecurity, undefined, undefined, undefined, input)
      .catch((e: unknown) => e)) as ConnectError;
    expect([error.code, once.calls.length]).toEqual([Code.Unavailable, 1]);

    const slow = scriptedTransport(hang);
    const transport = resilient([slow], { bulkhead: { maxConcurrent: 1, maxQueue: 1 } });
    const get = create(getSecurity.input);
    const running = transport.unary(getSecurity, undefined, undefined, undefined, get);
    const queued = transport.unary(getSecurity, undefined, undefined, undefined, get);
    const refused = (await transport
      .unary(getSecurity, undefined, undefined, undefined, get)
      .catch((e: unknown) => e)) as ConnectError;
    expect(refused.rawMessage).toBe("bulkhead full for universe");
    expect(transport.state().bulkhead).toEqual({ active: 1, queued: 1 });
    slow.calls[0]!.release();
    await running;
    await Bun.sleep(0);
    slow.calls[1]!.release();
    await queued;
    expect(transport.state().bulkhead).toEqual({ active: 0, queued: 0 });
  });

  test("interrupting the Effect aborts the attempt in flight without counting against the breaker", async () => {
    const endpoint = scriptedTransport(hang);
    const transport = resilient([endpoint], { breaker: { consecutiveFailures: 1 } });
    const exit = await withTestClock(
      Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(call(transport));
        yield* settle;
        yield* Fiber.interrupt(fiber);
        return yield* Fiber.await(fiber);
      }),
    );
    expect(Exit.isFailure(exit)).toBe(true);
    expect(endpoint.calls[0]?.aborted).toBe(true);
    expect(transport.state().endpoints[0]).toEqual({ url: "http://e0", breaker: "closed", outstanding: 0 });
  });
});

/** An unavailable error with a `retry-after` header, as a proxy or server would send it. */
function retryAfter(ms: number): ConnectError {
  return new ConnectError("down", Code.Unavailable, { "retry-after": String(ms / 1000) });
}
