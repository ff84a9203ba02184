import { afterAll, describe, expect, test } from "bun:test";
import { Effect, Fiber, Layer, type Scope, Stream } from "effect";
import { OrderFilledSchema } from "../../../../sdk/src/gen/meridian/trading/v1/events_pb.js";
import { layerRedis } from "../redis/connection.js";
import { dropRedisKeys } from "../testing/redis-keys.js";
import { EventBus, layerMemoryEventBus, layerRedisEventBus, type EventBusOptions } from "./bus.js";
import { tail } from "./tail.js";
import { sampleFill } from "./testing.js";
import { defineEvent } from "./topic.js";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const runPrefix = `test:${crypto.randomUUID().slice(0, 8)}:`;
const OrderFilledEvent = defineEvent("meridian.trading.order.filled", OrderFilledSchema);

afterAll(async () => {
  await dropRedisKeys(redisUrl, runPrefix);
});

let testCount = 0;
const implementations = [
  {
    name: "redis",
    bus: (options: EventBusOptions) => layerRedisEventBus(options).pipe(Layer.provide(layerRedis({ url: redisUrl }))),
  },
  { name: "in-process", bus: (options: EventBusOptions) => layerMemoryEventBus({ ...options, isolated: true }) },
];

for (const implementation of implementations) {
  describe(`tail (${implementation.name})`, () => {
    const run = <A>(body: Effect.Effect<A, unknown, EventBus | Scope.Scope>) =>
      Effect.runPromise(
        Effect.scoped(body).pipe(
          Effect.provide(implementation.bus({ source: "trading", keyPrefix: `${runPrefix}${testCount++}:` })),
        ) as Effect.Effect<A>,
      );

    test("a follower gets the events appended after it started, in order, and none from before", () =>
      run(
        Effect.gen(function* () {
          const bus = yield* EventBus;
          yield* bus.publish(OrderFilledEvent, sampleFill(0));
          yield* bus.publish(OrderFilledEvent, sampleFill(1));
          const follower = yield* tail(OrderFilledEvent, { blockMs: 200 }).pipe(Stream.take(3), Stream.runCollect, Effect.forkScoped);
          // Let the follower find where the stream ends before anything new arrives.
          yield* Effect.sleep(300);
          for (const n of [2, 3, 4]) yield* bus.publish(OrderFilledEvent, sampleFill(n));
          const received = (yield* Fiber.join(follower));
          expect(received.map((e) => e.payload.fillId)).toEqual([2, 3, 4].map((n) => sampleFill(n).fillId));
          expect(received.every((e) => e.topic === OrderFilledEvent.topic && e.source === "trading")).toBe(true);
        }),
      ), 15_000);

    test("an event appended as soon as onFollowing is called is delivered: no wait needed", () =>
      run(
        Effect.gen(function* () {
          const bus = yield* EventBus;
          yield* bus.publish(OrderFilledEvent, sampleFill(20));
          let following: () => void = () => {};
          const started = new Promise<void>((resolve) => (following = resolve));
          const follower = yield* tail(OrderFilledEvent, { blockMs: 200, onFollowing: () => following() }).pipe(
            Stream.take(1),
            Stream.runCollect,
            Effect.forkScoped,
          );
          yield* Effect.promise(() => started);
          yield* bus.publish(OrderFilledEvent, sampleFill(21));
          expect((yield* Fiber.join(follower)).map((e) => e.payload.fillId)).toEqual([sampleFill(21).fillId]);
        }),
      ), 15_000);

    test("two followers each get every event: a live view is not a consumer group", () =>
      run(
        Effect.gen(function* () {
          const bus = yield* EventBus;
          const follow = () => tail(OrderFilledEvent, { blockMs: 200 }).pipe(Stream.take(2), Stream.runCollect, Effect.forkScoped);
          const first = yield* follow();
          const second = yield* follow();
          yield* Effect.sleep(300);
          yield* bus.publish(OrderFilledEvent, sampleFill(7));
          yield* bus.publish(OrderFilledEvent, sampleFill(8));
          for (const follower of [first, second]) {
            const ids = (yield* Fiber.join(follower)).map((e) => e.payload.fillId);
            expect(ids).toEqual([sampleFill(7).fillId, sampleFill(8).fillId]);
          }
        }),
      ), 15_000);

    test("interrupting a follower ends it promptly, even in the middle of a blocking read", () =>
      run(
        Effect.gen(function* () {
          const follower = yield* tail(OrderFilledEvent, { blockMs: 5000 }).pipe(Stream.runDrain, Effect.forkScoped);
          yield* Effect.sleep(200);
          const started = Date.now();
          yield* Fiber.interrupt(follower);
          expect(Date.now() - started).toBeLessThan(4000);
        }),
      ), 15_000);
  });
}
