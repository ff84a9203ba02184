import { afterAll, describe, expect, test } from "bun:test";
import { Data, Effect, Exit, Layer, Scope } from "effect";
import { OrderFilledSchema, type OrderFilled } from "../../../../sdk/src/gen/meridian/trading/v1/events_pb.js";
import { ResourceExhausted, Unavailable } from "../errors.js";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { layerRedis } from "../redis/connection.js";
import { dropRedisKeys } from "../testing/redis-keys.js";
import { layerTracingTo } from "../telemetry/tracing.js";
import { metrics } from "../telemetry/metrics.js";
import { EventBus, layerMemoryEventBus, layerRedisEventBus, type EventBusOptions } from "./bus.js";
import { consume, type ConsumerOptions } from "./consumer.js";
import type { ReceivedEvent } from "./envelope.js";
import { deadLetterTopic, defineEvent } from "./topic.js";
import { sampleFill } from "./testing.js";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const runPrefix = `test:${crypto.randomUUID().slice(0, 8)}:`;
const OrderFilledEvent = defineEvent("meridian.trading.order.filled", OrderFilledSchema);

class HandlerBroke extends Data.TaggedError("HandlerBroke")<{ readonly message: string }> {}

afterAll(async () => {
  await dropRedisKeys(redisUrl, runPrefix);
});

const fill = (n: number): OrderFilled => sampleFill(n);

let testCount = 0;
const implementations = [
  {
    name: "redis",
    bus: (options: EventBusOptions) => layerRedisEventBus(options).pipe(Layer.provide(layerRedis({ url: redisUrl }))),
  },
  { name: "in-process", bus: (options: EventBusOptions) => layerMemoryEventBus({ ...options, isolated: true }) },
];

/** Polls `condition` every 10 ms; fails after `timeoutMs`. */
const until = (condition: () => boolean, timeoutMs = 10_000): Effect.Effect<void> =>
  Effect.gen(function* () {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) return yield* Effect.die(new Error("condition not met in time"));
      yield* Effect.sleep(10);
    }
  });

/** Starts a consumer in a scope of its own; closing the scope stops it. */
const startConsumer = <E>(options: ConsumerOptions<OrderFilled, E, never>) =>
  Effect.gen(function* () {
    // Closed with the test's scope at the latest.
    const scope = yield* Scope.fork(yield* Effect.scope);
    yield* Scope.provide(scope)(consume(options));
    return scope;
  });
const stop = (scope: Scope.Closeable) => Scope.close(scope, Exit.void);

/** The topic's dead letters, once there are some. */
const deadLettersEventually = Effect.gen(function* () {
  const bus = yield* EventBus;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const dead = yield* bus.deadLetters(OrderFilledEvent.topic);
    if (dead.length > 0) return dead;
    yield* Effect.sleep(10);
  }
  return yield* Effect.die(new Error("no dead letter in time"));
});

const fast = { blockMs: 50, claimIdleMs: 300, retryBaseMs: 20, maxDeliveries: 3 } as const;

describe.each(implementations)("event consumers ($name)", ({ bus }) => {
  const run = <A, E>(body: Effect.Effect<A, E, EventBus | Scope.Scope>, options: Partial<EventBusOptions> = {}) =>
    Effect.runPromise(
      Effect.scoped(body).pipe(Effect.provide(bus({ source: "trading", keyPrefix: `${runPrefix}${++testCount}:`, ...options }))),
    );
  const publishAll = (count: number) =>
    Effect.flatMap(EventBus, (b) => Effect.forEach(Array.from({ length: count }, (_, i) => fill(i)), (p) => b.publish(OrderFilledEvent, p)));

  test("every event reaches each group once, shared among the group's consumers", async () => {
    const seen = { portfolio: [] as string[], gateway: [] as string[] };
    await run(
      Effect.gen(function* () {
        const record = (group: "portfolio" | "gateway") => (e: ReceivedEvent<OrderFilled>) =>
          Effect.sync(() => seen[group].push(e.payload.orderId));
        yield* startConsumer({ ...fast, event: OrderFilledEvent, group: "portfolio", handle: record("portfolio"), batchSize: 5 });
        yield* startConsumer({ ...fast, event: OrderFilledEvent, group: "portfolio", handle: record("portfolio"), batchSize: 5 });
        yield* startConsumer({ ...fast, event: OrderFilledEvent, group: "gateway", handle: record("gateway") });
        yield* publishAll(50);
        yield* until(() => seen.portfolio.length >= 50 && seen.gateway.length >= 50);
        yield* Effect.sleep(100);
      }),
    );
    expect(new Set(seen.portfolio).size).toBe(50);
    expect(seen.portfolio.length).toBe(50);
    expect(seen.gateway).toEqual(Array.from({ length: 50 }, (_, i) => `o-${i}`));
  });

  test("the envelope carries id, type, source, time, correlation id and trace context", async () => {
    const received: ReceivedEvent<OrderFilled>[] = [];
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    await run(
      Effect.gen(function* () {
        yield* startConsumer({ ...fast, event: OrderFilledEvent, group: "portfolio", handle: (e) => Effect.sync(() => received.push(e)) });
        const envelope = yield* Effect.flatMap(EventBus, (b) =>
          b.publish(OrderFilledEvent, fill(7), { correlationId: "req-42", traceparent }),
        );
        yield* until(() => received.length === 1);
        const [event] = received;
        expect(event?.id).toBe(envelope.id);
        expect(event?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        expect(event?.type).toBe("meridian.trading.v1.OrderFilled");
        expect(event?.source).toBe("trading");
        expect(event?.correlationId).toBe("req-42");
        expect(event?.traceparent).toBe(traceparent);
        expect(Math.abs((event?.time.getTime() ?? 0) - Date.now())).toBeLessThan(60_000);
        expect(event?.payload.priceMicros).toBe(187_250_000n);
        expect(event?.deliveries).toBe(1);
      }),
    );
  });

  test("with tracing on, the consumer's span continues the producer's trace", async () => {
    const exporter = new InMemorySpanExporter();
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const received: string[] = [];
    let spans: ReturnType<InMemorySpanExporter["getFinishedSpans"]> = [];
    await run(
      Effect.gen(function* () {
        yield* Layer.build(layerTracingTo(exporter, { serviceName: "trading", batch: false }));
        yield* startConsumer({ ...fast, event: OrderFilledEvent, group: "portfolio", handle: (e) => Effect.sync(() => received.push(e.traceparent)) });
        yield* Effect.flatMap(EventBus, (b) => b.publish(OrderFilledEvent, fill(1), { traceparent: `00-${traceId}-00f067aa0ba902b7-01` }));
        yield* until(() => received.length === 1);
        yield* Effect.sleep(20);
        // Read before the scope closes: shutting the provider down empties the exporter.
        spans = exporter.getFinishedSpans();
      }),
    );
    const publish = spans.find((s) => s.name === "meridian.trading.order.filled publish");
    const process = spans.find((s) => s.name === "meridian.trading.order.filled process");
    expect(publish?.spanContext().traceId).toBe(traceId);
    expect(publish?.parentSpanContext?.spanId).toBe("00f067aa0ba902b7");
    expect(process?.spanContext().traceId).toBe(traceId);
    expect(process?.parentSpanContext?.spanId).toBe(publish?.spanContext().spanId);
    expect(process?.attributes["messaging.consumer.group.name"]).toBe("portfolio");
    expect(received[0]).toContain(publish?.spanContext().spanId ?? "none");
  });

  test("a failed event is redelivered after a backoff and then acknowledged", async () => {
    const attempts: number[] = [];
    await run(
      Effect.gen(function* () {
        yield* startConsumer({
          ...fast,
          event: OrderFilledEvent,
          group: "portfolio",
          handle: (e) =>
            Effect.suspend(() => {
              attempts.push(e.deliveries);
              return e.deliveries < 3 ? Effect.fail(new HandlerBroke({ message: "not yet" })) : Effect.void;
            }),
        });
        yield* publishAll(1);
        yield* until(() => attempts.length === 3);
        yield* Effect.sleep(fast.claimIdleMs * 2);
        const dead = yield* Effect.flatMap(EventBus, (b) => b.deadLetters(OrderFilledEvent.topic));
        expect(dead).toEqual([]);
      }),
    );
    expect(attempts).toEqual([1, 2, 3]);
  });

  test("a poison event lands in the dead-letter stream after maxDeliveries tries while the rest flow on", async () => {
    const handled: string[] = [];
    let poisonTries = 0;
    await run(
      Effect.gen(function* () {
        yield* startConsumer({
          ...fast,
          event: OrderFilledEvent,
          group: "portfolio",
          retryBaseMs: 100,
          handle: (e) =>
            Effect.suspend(() => {
              if (e.payload.orderId === "o-3") {
                poisonTries += 1;
                return Effect.fail(new HandlerBroke({ message: "account acc-1 does not exist" }));
              }
              handled.push(e.payload.orderId);
              return Effect.void;
            }),
        });
        yield* publishAll(20);
        // The others are all handled while the poison event waits out its first backoff.
        yield* until(() => handled.length === 19);
        expect(poisonTries).toBe(1);
        yield* until(() => poisonTries === 3);
        const dead = yield* deadLettersEventually;
        expect(dead.length).toBe(1);
        expect(dead[0]?.reason).toContain("HandlerBroke: account acc-1 does not exist");
        expect(dead[0]?.deliveries).toBe(3);
        expect(dead[0]?.group).toBe("portfolio");
        expect(dead[0]?.envelope?.type).toBe("meridian.trading.v1.OrderFilled");
        // It is settled: no fourth try, however long we wait.
        yield* Effect.sleep(fast.claimIdleMs * 2);
      }),
    );
    expect(handled.length).toBe(19);
    expect(poisonTries).toBe(3);
  });

  test("an entry that is not an event goes to the dead-letter stream at once", async () => {
    const handled: string[] = [];
    await run(
      Effect.gen(function* () {
        const b = yield* EventBus;
        yield* startConsumer({ ...fast, event: OrderFilledEvent, group: "portfolio", handle: (e) => Effect.sync(() => handled.push(e.payload.orderId)) });
        yield* Effect.promise(() => b.backend.append(b.streamKey(OrderFilledEvent.topic), [new Uint8Array([0xff, 0xff, 0xff])], { maxLen: 100 }));
        yield* publishAll(1);
        yield* until(() => handled.length === 1);
        const dead = yield* deadLettersEventually;
        expect(dead[0]?.reason).toContain("undecodable");
      }),
    );
  });

  test("a dependency that is down (Unavailable) is waited out without dead-lettering", async () => {
    let failuresLeft = 6;
    const handled: string[] = [];
    await run(
      Effect.gen(function* () {
        yield* startConsumer({
          ...fast,
          event: OrderFilledEvent,
          group: "portfolio",
          retryBaseMs: 5,
          handle: (e) =>
            Effect.suspend(() => {
              if (failuresLeft-- > 0) return Effect.fail(new Unavailable({ reason: "database unavailable" }));
              handled.push(e.payload.orderId);
              return Effect.void;
            }),
        });
        yield* publishAll(2);
        yield* until(() => handled.length === 2);
        expect(yield* Effect.flatMap(EventBus, (b) => b.deadLetters(OrderFilledEvent.topic))).toEqual([]);
      }),
    );
    expect(handled).toEqual(["o-0", "o-1"]);
  });

  test("events left pending by a consumer that stopped mid-batch are claimed by another after claimIdleMs", async () => {
    const handledBy = new Map<string, string[]>();
    const handler = (name: string) => (e: ReceivedEvent<OrderFilled>) =>
      Effect.gen(function* () {
        yield* Effect.sleep(5);
        handledBy.set(e.payload.orderId, [...(handledBy.get(e.payload.orderId) ?? []), name]);
      });
    await run(
      Effect.gen(function* () {
        const first = yield* startConsumer({ ...fast, event: OrderFilledEvent, group: "portfolio", consumer: "first", batchSize: 50, handle: handler("first") });
        yield* publishAll(30);
        yield* until(() => handledBy.size >= 5);
        yield* stop(first);
        const byFirst = handledBy.size;
        expect(byFirst).toBeLessThan(30);
        yield* startConsumer({ ...fast, event: OrderFilledEvent, group: "portfolio", consumer: "second", handle: handler("second") });
        yield* until(() => handledBy.size === 30);
        yield* Effect.sleep(fast.claimIdleMs * 2);
      }),
    );
    // Stopping lets the event in hand finish: nothing the first one handled is handled again.
    expect([...handledBy.values()].every((names) => names.length === 1)).toBe(true);
    expect([...handledBy.values()].some(([name]) => name === "second")).toBe(true);
  });

  test("at shutdown a consumer finishes the event it is handling and acknowledges it", async () => {
    let finished = 0;
    let started = 0;
    await run(
      Effect.gen(function* () {
        const consumer = yield* startConsumer({
          ...fast,
          event: OrderFilledEvent,
          group: "portfolio",
          handle: () =>
            Effect.gen(function* () {
              started += 1;
              yield* Effect.sleep(200);
              finished += 1;
            }),
        });
        yield* publishAll(1);
        yield* until(() => started === 1);
        yield* stop(consumer);
        expect(finished).toBe(1);
        // Acknowledged: a new consumer of the group, however long it waits, gets nothing.
        yield* startConsumer({ ...fast, event: OrderFilledEvent, group: "portfolio", handle: () => Effect.sync(() => (started += 1)) });
        yield* Effect.sleep(fast.claimIdleMs * 2);
        expect(started).toBe(1);
      }),
    );
  });

  test("a handler slower than claimIdleMs keeps its event: nobody else claims it", async () => {
    const runs: string[] = [];
    await run(
      Effect.gen(function* () {
        const handle = (name: string) => () =>
          Effect.gen(function* () {
            runs.push(name);
            yield* Effect.sleep(fast.claimIdleMs * 3);
          });
        yield* startConsumer({ ...fast, event: OrderFilledEvent, group: "portfolio", consumer: "a", handle: handle("a") });
        yield* startConsumer({ ...fast, event: OrderFilledEvent, group: "portfolio", consumer: "b", handle: handle("b") });
        yield* publishAll(1);
        yield* Effect.sleep(fast.claimIdleMs * 4);
      }),
    );
    expect(runs.length).toBe(1);
  });

  test("the length cap never drops unconsumed entries: a full stream refuses appends until they are acknowledged", async () => {
    const handled: string[] = [];
    await run(
      Effect.gen(function* () {
        const b = yield* EventBus;
        yield* Effect.promise(() => b.backend.ensureGroup(b.streamKey(OrderFilledEvent.topic), "portfolio"));
        yield* publishAll(10);
        const refused = yield* Effect.flip(b.publish(OrderFilledEvent, fill(10)));
        expect(refused).toBeInstanceOf(ResourceExhausted);
        yield* startConsumer({ ...fast, event: OrderFilledEvent, group: "portfolio", handle: (e) => Effect.sync(() => handled.push(e.payload.orderId)) });
        yield* until(() => handled.length === 10);
        yield* Effect.sleep(50);
        // Acknowledged entries make room.
        yield* b.publish(OrderFilledEvent, fill(10));
        yield* until(() => handled.length === 11);
      }),
      { maxLen: 10 },
    );
    expect(handled).toEqual(Array.from({ length: 11 }, (_, i) => `o-${i}`));
  });

  test("without any consumer group the cap trims the oldest entries, counted", async () => {
    const trimmed = () => metrics.counter("events_trimmed_unconsumed_total", "", []).get({ topic: OrderFilledEvent.topic });
    const before = trimmed();
    await run(publishAll(15), { maxLen: 10 });
    expect(trimmed() - before).toBe(5);
  });
});
