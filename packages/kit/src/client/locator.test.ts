/**
 * The client stack against real kit servers on loopback: retries, breaker,
 * deadline propagation, bulkhead, load balancing, local vs remote mode,
 * configuration and telemetry. Faults are injected deterministically.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Code } from "@connectrpc/connect";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { Effect, Exit, Layer, ManagedRuntime } from "effect";
import type { EffectClient } from "@meridian/sdk";
import { Universe } from "@meridian/sdk/universe";
import { Ledger } from "../../../../sdk/src/test-fixtures/ledger-service.js";
import { Health, layerHealth } from "../health.js";
import { layerLifecycle } from "../lifecycle.js";
import { configureLogging, type LogSink } from "../log.js";
import { implement } from "../server/implement.js";
import { metrics } from "../telemetry/metrics.js";
import { layerTracingTo } from "../telemetry/tracing.js";
import { deferredLocalServices, layerLocalServices, LocalServices } from "./local.js";
import { layerClient, ServiceClient, type ClientOptions } from "./locator.js";
import { Faults, startServer, testUniverse, type Seen, type TestServer } from "./test-servers.js";

const UniverseClient = ServiceClient(Universe);
const LedgerClient = ServiceClient(Ledger);

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function server(...args: Parameters<typeof startServer>): Promise<TestServer> {
  const started = await startServer(...args);
  cleanups.push(started.stop);
  return started;
}

/** A client of `service` built by the locator from `env` (and any extra layer, e.g. local services). */
async function clientOf<M extends typeof Universe | typeof Ledger>(
  service: M,
  env: Record<string, string>,
  options: Omit<ClientOptions, "env"> = {},
  extra: Layer.Layer<never> = Layer.empty,
): Promise<EffectClient<M>> {
  const runtime = ManagedRuntime.make(layerClient(service, { ...options, env }).pipe(Layer.provide(extra)));
  cleanups.push(() => runtime.dispose());
  return runtime.runPromise(Effect.service(ServiceClient(service)));
}

const failure = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(Effect.flip(effect));
const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect);

describe("retries against a flaky downstream", () => {
  test("a downstream failing 2 of 3 calls is retried to success for an idempotent method", async () => {
    const faults = new Faults({ pattern: "xx.", code: Code.Unavailable });
    const { httpUrl } = await server([testUniverse("u")], { faults });
    const universe = await clientOf(Universe, { MERIDIAN_UNIVERSE_URL: httpUrl });
    const response = await run(universe.getSecurity({ symbol: "AAPL" }));
    expect(response.security?.name).toBe("Apple Inc.");
    expect(faults.calls.map((c) => c.fault)).toEqual(["fail", "fail", "pass"]);
  });

  test("the same downstream is not retried for a method with side effects", async () => {
    const faults = new Faults({ pattern: "xx.", code: Code.Unavailable });
    const ledger = implement(Ledger, { recordTrade: ({ security }) => Effect.succeed({ security, created: true }) });
    const { httpUrl } = await server([ledger], { faults });
    const client = await clientOf(Ledger, { MERIDIAN_TEST_URL: httpUrl });
    const error = await failure(client.recordTrade({ security: { symbol: "AAPL" } }));
    expect(error._tag).toBe("Unavailable");
    expect(faults.calls).toHaveLength(1);
  });

  test("with an idempotency key the method with side effects is retried too", async () => {
    const faults = new Faults({ pattern: "x.", code: Code.Unavailable });
    const ledger = implement(Ledger, { recordTrade: ({ security }) => Effect.succeed({ security, created: true }) });
    const { httpUrl } = await server([ledger], { faults });
    const client = await clientOf(Ledger, { MERIDIAN_TEST_URL: httpUrl });
    const response = await run(
      client.recordTrade({ security: { symbol: "AAPL" } }, { headers: { "idempotency-key": "trade-1" } }),
    );
    expect(response.created).toBe(true);
    expect(faults.calls).toHaveLength(2);
  });
});

describe("circuit breaker against a dead endpoint", () => {
  test("it opens after N refused calls, then refuses calls itself, and it closes once the endpoint is back", async () => {
    const first = await startServer([testUniverse("u")]);
    const port = first.httpPort;
    await first.stop(); // dead: connections are refused
    const universe = await clientOf(Universe, {
      MERIDIAN_UNIVERSE_URL: `http://127.0.0.1:${port}`,
      MERIDIAN_UNIVERSE_RETRIES: "0",
      MERIDIAN_UNIVERSE_BREAKER_FAILURES: "3",
      MERIDIAN_UNIVERSE_BREAKER_OPEN_MS: "300",
    });

    const refused = [];
    for (let i = 0; i < 3; i++) refused.push((await failure(universe.listSecurities({})))._tag);
    expect(refused).toEqual(["Unavailable", "Unavailable", "Unavailable"]);
    expect(metrics.render()).toContain(
      `rpc_client_breaker_state{downstream="universe",endpoint="http://127.0.0.1:${port}"} 2`,
    );

    // Open: refused at once by the breaker (CircuitOpen), not by the dead endpoint (Unavailable).
    const whileOpen = [];
    for (let i = 0; i < 20; i++) whileOpen.push((await failure(universe.listSecurities({})))._tag);
    expect(new Set(whileOpen)).toEqual(new Set(["CircuitOpen"]));

    const back = await server([testUniverse("u")], { httpPort: port });
    expect(back.httpPort).toBe(port);
    await Bun.sleep(300); // the breaker's pause
    const response = await run(universe.listSecurities({}));
    expect(response.securities[0]?.symbol).toBe("U");
    expect(metrics.render()).toContain(
      `rpc_client_breaker_state{downstream="universe",endpoint="http://127.0.0.1:${port}"} 0`,
    );
  });
});

describe("deadlines", () => {
  test("a slow endpoint hits the deadline, and the downstream saw the caller's shortened deadline", async () => {
    const slow = new Faults({ latencyMs: 2000 });
    const downstreamSeen: Seen[] = [];
    const downstream = await server([testUniverse("u", downstreamSeen)], { faults: slow });
    // The front calls the universe from inside its own handler, through the locator.
    const front = Effect.gen(function* () {
      const universe = yield* Effect.service(UniverseClient);
      return yield* implement(Ledger, {
        recordTrade: ({ security }) =>
          Effect.map(universe.getSecurity({ symbol: security?.symbol ?? "" }), ({ security }) => ({ security, created: false })),
      });
    }).pipe(Effect.provide(layerClient(Universe, { env: { MERIDIAN_UNIVERSE_URL: downstream.httpUrl } })), Effect.orDie);
    const { httpUrl } = await server([front]);
    const client = await clientOf(Ledger, { MERIDIAN_TEST_URL: httpUrl });

    const started = performance.now();
    const error = await failure(client.recordTrade({ security: { symbol: "AAPL" } }, { timeoutMs: 400 }));
    const elapsed = performance.now() - started;
    expect(error._tag).toBe("DeadlineExceeded");
    expect(elapsed).toBeGreaterThanOrEqual(390);
    expect(elapsed).toBeLessThan(1000);
    // The downstream got what was left of 400 ms, not its own 5 s default.
    const sent = slow.calls[0]?.timeoutMs ?? 0;
    expect(sent).toBeLessThanOrEqual(400);
    expect(sent).toBeGreaterThan(300);
  });

  test("the correlation id and trace of the served call go on to the downstream", async () => {
    const seen: Seen[] = [];
    const downstream = await server([testUniverse("u", seen)]);
    const front = Effect.gen(function* () {
      const universe = yield* Effect.service(UniverseClient);
      return yield* implement(Ledger, {
        recordTrade: () => Effect.map(universe.getSecurity({ symbol: "AAPL" }), ({ security }) => ({ security, created: false })),
      });
    }).pipe(Effect.provide(layerClient(Universe, { env: { MERIDIAN_UNIVERSE_URL: downstream.httpUrl } })), Effect.orDie);
    const { httpUrl } = await server([front]);
    const client = await clientOf(Ledger, { MERIDIAN_TEST_URL: httpUrl });
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    await run(
      client.recordTrade(
        { security: { symbol: "AAPL" } },
        { headers: { "x-request-id": "order-77", traceparent: `00-${traceId}-00f067aa0ba902b7-01` } },
      ),
    );
    expect(seen[0]?.correlationId).toBe("order-77");
    expect(seen[0]?.traceparent).toStartWith(`00-${traceId}-`);
  });
});

describe("bulkhead", () => {
  test("beyond its concurrency and queue, calls fail at once with BulkheadFull; the others succeed", async () => {
    const { httpUrl } = await server([testUniverse("u")], { faults: new Faults({ latencyMs: 300 }) });
    const universe = await clientOf(Universe, {
      MERIDIAN_UNIVERSE_URL: httpUrl,
      MERIDIAN_UNIVERSE_BULKHEAD_CONCURRENCY: "2",
      MERIDIAN_UNIVERSE_BULKHEAD_QUEUE: "1",
    });
    const outcomes = await run(
      Effect.all(
        [1, 2, 3, 4, 5].map(() =>
          universe.listSecurities({}).pipe(
            Effect.timed,
            Effect.map(([duration]) => ({ tag: "ok", ms: Number(duration.value) })),
            Effect.catch((e) => Effect.succeed({ tag: e._tag, ms: 0 })),
          ),
        ),
        { concurrency: "unbounded" },
      ),
    );
    expect(outcomes.map((o) => o.tag).sort()).toEqual(["BulkheadFull", "BulkheadFull", "ok", "ok", "ok"]);
  });
});

describe("load balancing", () => {
  test("calls spread over 3 endpoints, and a killed one is skipped once its breaker opens", async () => {
    const servers = await Promise.all(["a", "b", "c"].map((name) => startServer([testUniverse(name)])));
    cleanups.push(() => Promise.all(servers.map((s) => s.stop())).then(() => {}));
    const universe = await clientOf(Universe, {
      MERIDIAN_UNIVERSE_URL: servers.map((s) => s.httpUrl).join(","),
      MERIDIAN_UNIVERSE_BREAKER_FAILURES: "2",
    });
    const answeredBy = async (n: number) => {
      const counts: Record<string, number> = {};
      for (let i = 0; i < n; i++) {
        const { securities } = await run(universe.listSecurities({}));
        const name = securities[0]!.symbol;
        counts[name] = (counts[name] ?? 0) + 1;
      }
      return counts;
    };
    expect(await answeredBy(30)).toEqual({ A: 10, B: 10, C: 10 });

    const retriesBefore = retriesTotal();
    await servers[1]!.stop();
    expect(await answeredBy(30)).toEqual({ A: 15, C: 15 });
    // Only the calls that met b before its breaker opened were retried elsewhere.
    expect(retriesTotal() - retriesBefore).toBe(2);
  });
});

describe("local and remote mode", () => {
  test("the same calls give identical results and errors, in-process or over HTTP/1.1 and gRPC", async () => {
    const binding = testUniverse("u");
    const { httpUrl, grpcUrl } = await server([binding]);
    const remote = await clientOf(Universe, { MERIDIAN_UNIVERSE_URL: httpUrl });
    const grpc = await clientOf(Universe, { MERIDIAN_UNIVERSE_URL: grpcUrl, MERIDIAN_UNIVERSE_PROTOCOL: "grpc" });
    const local = await clientOf(Universe, {}, {}, layerLocalServices([binding]));

    const outcomesOf = (universe: EffectClient<typeof Universe>) =>
      run(
        Effect.all(
          ([
            universe.getSecurity({ symbol: "AAPL" }),
            universe.getSecurity({ symbol: "NOPE" }),
            universe.getSecurity({ symbol: "" }),
            universe.listSecurities({}),
            universe.upsertSecurity({ security: { symbol: "MSFT", name: "Microsoft" } }),
          ] as ReadonlyArray<Effect.Effect<unknown, unknown>>).map((call) =>
            Effect.exit(call).pipe(
              Effect.map((exit) =>
                Exit.isSuccess(exit)
                  ? { ok: exit.value }
                  : { error: exit.cause.reasons.map((r) => (r._tag === "Fail" ? describeError(r.error) : r._tag)) },
              ),
            ),
          ),
        ),
      );
    const viaHttp = await outcomesOf(remote);
    expect(await outcomesOf(local)).toEqual(viaHttp);
    expect(await outcomesOf(grpc)).toEqual(viaHttp);
    expect(viaHttp[1]).toEqual({ error: [{ tag: "UnknownSymbol", code: Code.NotFound, fields: { symbol: "NOPE" } }] });
  });

  test("with no URL and no local binding, start-up fails naming the variable to set", async () => {
    const exit = await Effect.runPromiseExit(Layer.build(layerClient(Universe, { env: {} })).pipe(Effect.scoped));
    expect(Exit.isFailure(exit) && String(exit.cause)).toContain("MERIDIAN_UNIVERSE_URL is not set");
  });

  test("a bad setting fails start-up naming the bad variable", async () => {
    for (const [name, value] of [
      ["MERIDIAN_UNIVERSE_URL", "ftp://x"],
      ["MERIDIAN_UNIVERSE_TIMEOUT_MS", "soon"],
      ["MERIDIAN_UNIVERSE_RETRIES", "-1"],
      ["MERIDIAN_UNIVERSE_PROTOCOL", "h3"],
      ["MERIDIAN_UNIVERSE_BREAKER_FAILURE_RATE", "1.5"],
      ["MERIDIAN_UNIVERSE_BULKHEAD_CONCURRENCY", "0"],
    ] as const) {
      const exit = await Effect.runPromiseExit(
        Layer.build(layerClient(Universe, { env: { MERIDIAN_UNIVERSE_URL: "http://127.0.0.1:1", [name]: value } })).pipe(
          Effect.scoped,
        ),
      );
      expect(Exit.isFailure(exit) && String(exit.cause)).toContain(name);
    }
  });
});

describe("telemetry", () => {
  test("each call is counted by downstream, method and code, and logged at debug with its correlation id", async () => {
    const { httpUrl } = await server([testUniverse("u")]);
    const universe = await clientOf(Universe, { MERIDIAN_UNIVERSE_TELEMETRY_URL: httpUrl }, { name: "universe-telemetry" });
    const lines: Array<Record<string, unknown>> = [];
    const sink: LogSink = { write: (line) => void lines.push(JSON.parse(line)), flush: () => {} };
    configureLogging({ level: "debug", sink });
    try {
      await run(universe.getSecurity({ symbol: "AAPL" }, { headers: { "x-request-id": "tele-1" } }));
      await failure(universe.getSecurity({ symbol: "NOPE" }));
    } finally {
      configureLogging({ level: "warn" });
    }
    const text = metrics.render();
    const method = "meridian.universe.v1.UniverseService/GetSecurity";
    expect(text).toContain(`rpc_client_requests_total{downstream="universe-telemetry",method="${method}",code="ok"} 1`);
    expect(text).toContain(`rpc_client_requests_total{downstream="universe-telemetry",method="${method}",code="not_found"} 1`);
    expect(text).toContain(`rpc_client_duration_seconds_count{downstream="universe-telemetry",method="${method}"} 2`);
    expect(text).toContain(`rpc_client_bulkhead_active{downstream="universe-telemetry"} 0`);
    const line = lines.find((l) => l.message === "rpc client" && l.correlation_id === "tele-1");
    expect(line).toMatchObject({ level: "debug", downstream: "universe-telemetry", mode: "remote", code: "ok", attempts: 1 });
  });
});

describe("retry budget", () => {
  test("the budget's tokens and the retries it refused are metrics of the downstream", async () => {
    const faults = new Faults({ pattern: "x", code: Code.Unavailable });
    const { httpUrl } = await server([testUniverse("u")], { faults });
    const universe = await clientOf(
      Universe,
      { MERIDIAN_UNIVERSE_BUDGET_URL: httpUrl },
      // One token, none earned: the first call's first retry spends it, every later retry is refused.
      { name: "universe-budget", policy: { retryBudget: { ratio: 0, reserve: 1 }, retry: { baseDelayMs: 1 }, breaker: false } },
    );
    const before = metrics.render();
    expect(before).toContain(`rpc_client_retry_budget_tokens{downstream="universe-budget"} 1`);
    expect(before).toContain(`rpc_client_retries_refused_total{downstream="universe-budget"} 0`);

    expect((await failure(universe.getSecurity({ symbol: "AAPL" })))._tag).toBe("RetriesExhausted"); // 2 attempts, then refused
    expect((await failure(universe.getSecurity({ symbol: "AAPL" })))._tag).toBe("Unavailable"); // refused at once
    expect(faults.calls).toHaveLength(3);
    const after = metrics.render();
    expect(after).toContain(`rpc_client_retry_budget_tokens{downstream="universe-budget"} 0`);
    expect(after).toContain(`rpc_client_retries_refused_total{downstream="universe-budget"} 2`);
  });
});

function describeError(error: unknown) {
  const e = error as { _tag: string; code: Code; fields?: unknown };
  return { tag: e._tag, code: e.code, fields: e.fields };
}

function retriesTotal(): number {
  let total = 0;
  for (const line of metrics.render().split("\n")) {
    if (line.startsWith('rpc_client_retries_total{downstream="universe"')) total += Number(line.split(" ").at(-1));
  }
  return total;
}

describe("the launcher's deferred local services", () => {
  test("clients are built before the services they call, and calls go through once those are bound", async () => {
    const local = deferredLocalServices([Universe.desc.typeName]);
    const universe = await clientOf(
      Universe,
      { MERIDIAN_UNIVERSE_RETRIES: "0" },
      {},
      Layer.succeed(LocalServices, local.registry),
    );
    expect((await failure(universe.listSecurities({}))).message).toContain("not started yet");
    const binding = await Effect.runPromise(testUniverse("late"));
    local.bind([binding], { maxMessageBytes: 4 * 1024 * 1024, deadlineCapMs: 30_000 });
    expect((await run(universe.listSecurities({}))).securities[0]?.symbol).toBe("LATE");
  });
});

describe("readiness", () => {
  test("a downstream whose every breaker is open shows down (the service degraded, not unready)", async () => {
    const dead = await startServer([testUniverse("u")]);
    await dead.stop();
    const runtime = ManagedRuntime.make(
      layerClient(Universe, {
        name: "universe-ready",
        env: { MERIDIAN_UNIVERSE_READY_URL: dead.httpUrl, MERIDIAN_UNIVERSE_READY_RETRIES: "0", MERIDIAN_UNIVERSE_READY_BREAKER_FAILURES: "1" },
      }).pipe(Layer.provideMerge(layerHealth), Layer.provideMerge(layerLifecycle)),
    );
    cleanups.push(() => runtime.dispose());
    const universe = await runtime.runPromise(Effect.service(UniverseClient));
    const health = await runtime.runPromise(Effect.service(Health));
    const dependency = async () =>
      (await health.readiness("test", "0"))?.dependencies["downstream:universe-ready"]?.status;
    expect(await dependency()).toBe("up");
    await failure(universe.listSecurities({}));
    expect(await dependency()).toBe("down");
  });
});

describe("tracing", () => {
  test("with tracing on, each call is a client span between the caller's server span and the downstream's", async () => {
    const exporter = new InMemorySpanExporter();
    const downstream = await server([testUniverse("u")]);
    const front = Effect.gen(function* () {
      const universe = yield* Effect.service(UniverseClient);
      return yield* implement(Ledger, {
        recordTrade: () => Effect.map(universe.getSecurity({ symbol: "NOPE" }).pipe(Effect.ignore), () => ({ created: false })),
      });
    }).pipe(Effect.provide(layerClient(Universe, { env: { MERIDIAN_UNIVERSE_URL: downstream.httpUrl } })), Effect.orDie);
    const tracing = ManagedRuntime.make(layerTracingTo(exporter, { serviceName: "client-test", batch: false }));
    await tracing.runPromise(Effect.void);
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    let finished: ReturnType<InMemorySpanExporter["getFinishedSpans"]> = [];
    try {
      const { httpUrl } = await server([front]);
      const client = await clientOf(Ledger, { MERIDIAN_TEST_URL: httpUrl });
      await run(client.recordTrade({}, { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } }));
      await Bun.sleep(50);
      finished = exporter.getFinishedSpans(); // the exporter forgets them when tracing stops
    } finally {
      await tracing.dispose();
    }
    const spans = finished.filter((s) => s.spanContext().traceId === traceId);
    // The test's own call is a client span too, child of the traceparent it was given.
    const callerSpan = spans.find((s) => s.parentSpanContext?.spanId === "00f067aa0ba902b7");
    expect(callerSpan?.name).toBe("meridian.test.v1.LedgerService/RecordTrade");
    expect(callerSpan?.kind).toBe(SpanKind.CLIENT);
    const frontSpan = spans.find((s) => s.parentSpanContext?.spanId === callerSpan?.spanContext().spanId);
    const clientSpan = spans.find((s) => s.parentSpanContext?.spanId === frontSpan?.spanContext().spanId);
    const downstreamSpan = spans.find((s) => s.parentSpanContext?.spanId === clientSpan?.spanContext().spanId);
    expect(frontSpan?.name).toBe("meridian.test.v1.LedgerService/RecordTrade");
    expect(clientSpan?.kind).toBe(SpanKind.CLIENT);
    expect(clientSpan?.name).toBe("meridian.universe.v1.UniverseService/GetSecurity");
    expect(clientSpan?.attributes).toMatchObject({ "meridian.downstream": "universe", "rpc.connect_rpc.error_code": "not_found" });
    expect(downstreamSpan?.kind).toBe(SpanKind.SERVER);
  });
});
