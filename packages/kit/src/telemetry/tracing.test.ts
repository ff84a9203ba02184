/**
 * Tracing across two services over real sockets: the caller's traceparent
 * becomes the parent of service A's server span, A passes its own context on
 * to B, and every span lands in one trace with RPC attributes.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Effect, Layer, ManagedRuntime } from "effect";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { createMeridianClient, typedErrorOf } from "@meridian/sdk";
import { createNodeTransport } from "@meridian/sdk/node";
import { Sector, Universe, UnknownSymbol } from "@meridian/sdk/universe";
import { layerHealth } from "../health.js";
import { configureLogging, layerLogger, type LogSink } from "../log.js";
import { layerLifecycle } from "../lifecycle.js";
import { RequestContext } from "../server/call.js";
import { implement } from "../server/implement.js";
import { serve, Server } from "../server/serve.js";
import { layerTracingTo, tracingEnabled } from "./tracing.js";
import { consume, defineEvent, EventBus, layerMemoryEventBus } from "../events/index.js";
import { sampleFill } from "../events/testing.js";
import { OrderFilledSchema } from "../../../../sdk/src/gen/meridian/trading/v1/events_pb.js";

// Service A also publishes an event for each call; a consumer in the same process applies it.
const filled = defineEvent("meridian.trading.order.filled", OrderFilledSchema);
let consumedTraceparents: string[] = [];

const exporter = new InMemorySpanExporter();
const logged: Array<Record<string, unknown>> = [];
const sink: LogSink = { write: (line) => void logged.push(JSON.parse(line)), flush: () => {} };
let bUrl = "";

// Service B answers; service A calls B for every request, passing its trace context on.
const serviceB = implement(Universe, {
  getSecurity: (request) =>
    request.symbol === "AAPL"
      ? Effect.succeed({ security: { symbol: "AAPL", name: "Apple", sector: Sector.TECHNOLOGY, currency: "USD" } })
      : Effect.fail(new UnknownSymbol({ symbol: request.symbol })),
  listSecurities: () => Effect.succeed({}),
  upsertSecurity: () => Effect.succeed({}),
});
const serviceA = implement(Universe, {
  getSecurity: (request) =>
    Effect.gen(function* () {
      const context = yield* Effect.service(RequestContext);
      const b = createMeridianClient(Universe, { transport: createNodeTransport({ baseUrl: bUrl, protocol: "grpc" }) });
      const answer = yield* Effect.tryPromise({
        try: () => b.getSecurity(request, { headers: { ...context.traceHeaders(), "x-request-id": context.correlationId } }),
        catch: (cause) => typedErrorOf(Universe, cause),
      });
      yield* Effect.logInfo("calling B done");
      const bus = yield* Effect.service(EventBus);
      const trace = context.traceHeaders();
      yield* Effect.orDie(
        bus.publish(filled, sampleFill(1), {
          correlationId: context.correlationId,
          ...(trace.traceparent === undefined ? {} : { traceparent: trace.traceparent }),
        }),
      );
      return answer;
    }),
  listSecurities: () => Effect.succeed({}),
  upsertSecurity: () => Effect.succeed({}),
});

const base = layerHealth.pipe(Layer.provideMerge(layerLifecycle));
const ports = { httpPort: 0, grpcPort: 0 };
const runtimeB = ManagedRuntime.make(serve({ name: "b", services: [serviceB], config: ports }).pipe(Layer.provide(base)));
const bus = layerMemoryEventBus({ source: "a", isolated: true });
const consumer = Layer.effectDiscard(
  consume({
    event: filled,
    group: "tracing-test",
    blockMs: 50,
    handle: (event) => Effect.sync(() => void consumedTraceparents.push(event.traceparent)),
  }),
);
const runtimeA = ManagedRuntime.make(
  serve({ name: "a", services: [serviceA], config: ports }).pipe(
    Layer.provide(base),
    Layer.provideMerge(consumer),
    Layer.provideMerge(bus),
    Layer.provideMerge(layerTracingTo(exporter, { serviceName: "test", batch: false })),
    Layer.provideMerge(layerLogger),
  ),
);
let aUrl = "";

beforeAll(async () => {
  configureLogging({ sink, level: "info" });
  bUrl = (await runtimeB.runPromise(Effect.service(Server))).grpc.url;
  aUrl = (await runtimeA.runPromise(Effect.service(Server))).http.url;
});

afterAll(async () => {
  configureLogging({ level: "warn" });
  await runtimeA.dispose();
  await runtimeB.dispose();
  expect(tracingEnabled()).toBe(false);
});

test("one trace spans the caller, service A, service B and the event A publishes, parent to child", async () => {
  exporter.reset();
  consumedTraceparents = [];
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const callerSpan = "00f067aa0ba902b7";
  const client = createMeridianClient(Universe, { baseUrl: aUrl });
  await client.getSecurity({ symbol: "AAPL" }, { headers: { traceparent: `00-${traceId}-${callerSpan}-01`, "x-request-id": "trace-1" } });
  for (let i = 0; i < 100 && consumedTraceparents.length === 0; i++) await Bun.sleep(20);
  await Bun.sleep(50);
  const spans = exporter.getFinishedSpans();
  expect(spans.every((s) => s.spanContext().traceId === traceId)).toBe(true);
  const byParent = (id: string | undefined) => spans.filter((s) => s.parentSpanContext?.spanId === id);
  const a = byParent(callerSpan).find((s) => s.name === "meridian.universe.v1.UniverseService/GetSecurity");
  expect(a).toBeDefined();
  expect(a?.attributes).toMatchObject({ "rpc.system": "connect_rpc", "rpc.method": "GetSecurity", "rpc.grpc.status_code": 0 });
  const children = byParent(a?.spanContext().spanId);
  const b = children.find((s) => s.name === "meridian.universe.v1.UniverseService/GetSecurity");
  expect(b?.attributes).toMatchObject({ "rpc.system": "grpc", "rpc.service": "meridian.universe.v1.UniverseService" });
  const publish = children.find((s) => s.name.endsWith("publish"));
  expect(publish).toBeDefined();
  const consumed = spans.find((s) => s.parentSpanContext?.spanId === publish?.spanContext().spanId);
  expect(consumed).toBeDefined();
  expect(consumedTraceparents[0]).toContain(traceId);
  // Logs: A's and B's access lines and A's own line share the correlation id and the trace id.
  const lines = logged.filter((l) => l.correlation_id === "trace-1");
  expect(lines.filter((l) => l.message === "rpc").length).toBe(2);
  const own = lines.find((l) => l.message === "calling B done");
  expect(own).toMatchObject({ trace_id: traceId, span_id: a?.spanContext().spanId });
  expect(lines.every((l) => l.trace_id === traceId)).toBe(true);
});

test("a failed call records its code on the span", async () => {
  exporter.reset();
  const client = createMeridianClient(Universe, { baseUrl: aUrl });
  await client.getSecurity({ symbol: "NOPE" }).catch(() => undefined);
  await Bun.sleep(50);
  const codes = exporter
    .getFinishedSpans()
    .filter((s) => s.kind === 1 /* SERVER */)
    .map((s) => s.attributes["rpc.connect_rpc.error_code"]);
  expect(codes).toEqual(["not_found", "not_found"]);
});
