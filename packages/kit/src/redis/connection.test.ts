import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Effect, Layer } from "effect";
import { Health, layerHealth } from "../health.js";
import { layerLifecycle } from "../lifecycle.js";
import { layerRedis, Redis, type RedisClient } from "./connection.js";
import { RedisUnavailable } from "./errors.js";
import { layerRedisHealth } from "./health.js";
import { startRedisServer, type RedisServerProcess } from "./testing.js";

let server: RedisServerProcess;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server.stop();
});

const until = async (condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(25);
  }
};

describe("layerRedis", () => {
  test("reconnects after the server restarts, and readiness follows the connection", async () => {
    const layer = Layer.mergeAll(layerRedisHealth(), Layer.empty).pipe(
      Layer.provideMerge(layerRedis({ url: server.url, reconnectCapMs: 200 })),
      Layer.provideMerge(layerHealth.pipe(Layer.provideMerge(layerLifecycle))),
    );
    await Effect.runPromise(
      Effect.gen(function* () {
        const { client } = yield* Redis;
        const health = yield* Health;
        const redisState = () =>
          Effect.promise(() => health.readiness("test", "0", 500).then((r) => r.dependencies.redis));
        expect((yield* redisState())?.status).toBe("up");
        expect((yield* redisState())?.required).toBe(false);

        yield* Effect.promise(() => server.stop());
        // No offline queue: a command while down fails at once instead of hanging.
        const failed = yield* Effect.promise(() => client.set("k", "v").then(() => false, () => true));
        expect(failed).toBe(true);
        expect((yield* redisState())?.status).toBe("down");

        yield* Effect.promise(() => server.start());
        yield* Effect.promise(() => until(async () => (await health.readiness("test", "0", 500)).dependencies.redis?.status === "up"));
        expect(yield* Effect.promise(() => client.set("k", "v"))).toBe("OK");
      }).pipe(Effect.provide(layer)),
    );
  });

  test("a dedicated connection is its own and is closed with its scope", async () => {
    let shared: RedisClient | undefined;
    let dedicated: RedisClient | undefined;
    await Effect.runPromise(
      Effect.gen(function* () {
        const redis = yield* Redis;
        shared = redis.client;
        yield* Effect.scoped(
          Effect.gen(function* () {
            dedicated = yield* redis.dedicated;
            yield* Effect.promise(() => until(async () => dedicated!.isReady));
            // A blocking read on the dedicated connection leaves the shared one free.
            const blocked = dedicated!.sendCommand(["BLPOP", "nothing-here", "0.1"]);
            expect(yield* Effect.promise(() => shared!.ping())).toBe("PONG");
            yield* Effect.promise(() => blocked);
          }),
        );
        expect(dedicated?.isOpen).toBe(false);
        expect(shared.isOpen).toBe(true);
      }).pipe(Effect.provide(layerRedis({ url: server.url }))),
    );
    expect(shared?.isOpen).toBe(false);
  });

  test("an unreachable server fails start-up with RedisUnavailable naming host:port, not the password", async () => {
    const started = Date.now();
    const error = await Effect.runPromise(
      Effect.flip(
        Effect.provide(Effect.service(Redis), layerRedis({ url: "redis://:s3cr3t-pw@127.0.0.1:1", connectTimeoutMs: 300 })),
      ),
    );
    expect(Date.now() - started).toBeLessThan(3000);
    expect(error).toBeInstanceOf(RedisUnavailable);
    expect(error.message).toContain("127.0.0.1:1");
    expect(JSON.stringify(error)).not.toContain("s3cr3t-pw");
    expect(error.message).not.toContain("s3cr3t-pw");
  });
});
