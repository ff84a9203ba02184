/**
 * grpc.health.v1.Health as a gRPC-native client sees it (grpc-js with the
 * vendored health.proto): Check and Watch follow the lifecycle and readiness.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Effect, Layer, ManagedRuntime } from "effect";
import { createMeridianClient } from "@meridian/sdk";
import { Universe } from "@meridian/sdk/universe";
import { Health, layerHealth } from "../health.js";
import { Lifecycle, layerLifecycle } from "../lifecycle.js";
import { configureLogging } from "../log.js";
import { GrpcHealthService } from "./grpc-health.js";
import { implement } from "./implement.js";
import { serve, Server } from "./serve.js";

const healthProto = fileURLToPath(new URL("../../../../proto/grpc/health/v1/health.proto", import.meta.url));

interface HealthClient extends grpc.Client {
  Check(request: { service: string }, callback: (error: grpc.ServiceError | null, response?: { status: string }) => void): void;
  Watch(request: { service: string }): grpc.ClientReadableStream<{ status: string }>;
}

const universe = implement(Universe, {
  getSecurity: () => Effect.die("not used"),
  listSecurities: () => Effect.succeed({ securities: [] }),
  upsertSecurity: () => Effect.die("not used"),
});

let runtime: ManagedRuntime.ManagedRuntime<Server | Lifecycle | Health, unknown>;
let client: HealthClient;
let httpUrl = "";

beforeAll(async () => {
  configureLogging({ level: "warn" });
  runtime = ManagedRuntime.make(
    serve({ name: "health-test", services: [universe], config: { httpPort: 0, grpcPort: 0, shutdownGraceMs: 2000, logLevel: "warn" } }).pipe(
      Layer.provideMerge(layerHealth),
      Layer.provideMerge(layerLifecycle),
    ),
  );
  const { grpc: grpcListener, http } = await runtime.runPromise(Effect.service(Server));
  httpUrl = http.url;
  const definition = protoLoader.loadSync(healthProto, { keepCase: true, enums: String, defaults: true });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { health: { v1: { Health: new (address: string, credentials: grpc.ChannelCredentials) => HealthClient } } };
  };
  client = new loaded.grpc.health.v1.Health(`127.0.0.1:${grpcListener.port}`, grpc.credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await runtime?.dispose();
});

const check = (service: string) =>
  new Promise<{ status?: string; code?: grpc.status }>((resolve) =>
    client.Check({ service }, (error, response) => resolve(error ? { code: error.code } : { status: response?.status })),
  );

/** Fails a required dependency until the returned function is called. */
const failPostgres = () =>
  runtime.runSync(Effect.service(Health)).register({
    name: "postgres",
    required: true,
    check: () => Promise.reject(new Error("connection refused")),
  });

/** Waits until `read` returns what `done` accepts; readiness is re-read on a timer, not instantly. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, attempts = 100): Promise<T> {
  let value = await read();
  for (let i = 0; i < attempts && !done(value); i++) {
    await Bun.sleep(50);
    value = await read();
  }
  return value;
}

/** Collects a Watch stream's statuses and how it ended. */
function watch(service: string) {
  const statuses: string[] = [];
  const call = client.Watch({ service });
  call.on("data", (response) => statuses.push(response.status));
  const ended = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
  call.on("error", () => {}); // the status event carries it
  const next = async (count: number) => {
    for (let i = 0; i < 200 && statuses.length < count; i++) await Bun.sleep(25);
    return statuses.slice(0, count);
  };
  return { statuses, call, ended, next };
}

describe("grpc.health.v1.Health", () => {
  test("Check answers SERVING for the server and for each served service, NOT_FOUND for others", async () => {
    expect(await check("")).toEqual({ status: "SERVING" });
    expect(await check("meridian.universe.v1.UniverseService")).toEqual({ status: "SERVING" });
    expect(await check("grpc.health.v1.Health")).toEqual({ status: "SERVING" });
    expect(await check("grpc.reflection.v1.ServerReflection")).toEqual({ status: "SERVING" });
    expect(await check("nope.v1.Nothing")).toEqual({ code: grpc.status.NOT_FOUND });
  });

  test("Check turns NOT_SERVING while a required dependency is down, and back", async () => {
    const recover = failPostgres();
    try {
      expect(await eventually(() => check(""), (r) => r.status === "NOT_SERVING")).toEqual({ status: "NOT_SERVING" });
    } finally {
      recover();
    }
    expect(await eventually(() => check(""), (r) => r.status === "SERVING")).toEqual({ status: "SERVING" });
  });

  test("the same service answers over Connect on HTTP_PORT", async () => {
    const health = createMeridianClient(GrpcHealthService, { baseUrl: httpUrl });
    const response = await health.check({ service: "meridian.universe.v1.UniverseService" });
    expect(response.status).toBe(1); // SERVING
  });

  test("Watch of an unknown service says SERVICE_UNKNOWN and stays open until cancelled", async () => {
    const w = watch("nope.v1.Nothing");
    expect(await w.next(1)).toEqual(["SERVICE_UNKNOWN"]);
    w.call.cancel();
    expect((await w.ended).code).toBe(grpc.status.CANCELLED);
  });

  test("Watch sends the current status, then each change, and NOT_SERVING then the end when shutdown begins", async () => {
    const w = watch("");
    expect(await w.next(1)).toEqual(["SERVING"]);
    const recover = failPostgres();
    expect(await w.next(2)).toEqual(["SERVING", "NOT_SERVING"]);
    recover();
    expect(await w.next(3)).toEqual(["SERVING", "NOT_SERVING", "SERVING"]);

    runtime.runSync(Effect.service(Lifecycle)).beginShutdown();
    expect((await w.ended).code).toBe(grpc.status.OK);
    expect(w.statuses).toEqual(["SERVING", "NOT_SERVING", "SERVING", "NOT_SERVING"]);
    // Still listening (draining), but no longer to be sent traffic.
    expect(await check("")).toEqual({ status: "NOT_SERVING" });
    expect(await check("meridian.universe.v1.UniverseService")).toEqual({ status: "NOT_SERVING" });
  });
});
