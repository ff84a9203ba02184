/**
 * Readiness follows the database: a service built from `serve`, `layerSql` and
 * `layerSqlHealth` reaches PostgreSQL through a TCP proxy the test cuts and
 * restores (the shared PostgreSQL itself is never stopped).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as net from "node:net";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Effect, Layer, ManagedRuntime } from "effect";
import postgres from "postgres";
import { Health as GrpcHealth, HealthCheckResponse_ServingStatus } from "../../../../sdk/src/gen/grpc/health/v1/health_pb.js";
import { layerHealth } from "../health.js";
import { layerLifecycle } from "../lifecycle.js";
import { serve, Server } from "../server/serve.js";
import { layerSqlHealth } from "./health.js";
import { layerSql } from "./sql.js";

const url = new URL(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test");
const schema = `t_${Math.random().toString(36).slice(2, 10)}`;

/**
 * A TCP proxy to `target`. `cut` drops every connection and stops listening, so new
 * connections are refused as by a host that is down; `restore` listens on the same port again.
 */
async function startProxy(target: { host: string; port: number }) {
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    const close = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on("error", close);
      socket.on("close", close);
    }
    client.pipe(upstream).pipe(client);
  });
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  const port = await listen(0);
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const socket of open) socket.destroy();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  return { port, cut: stop, restore: () => listen(port), close: stop };
}

let proxy: Awaited<ReturnType<typeof startProxy>>;
let runtime: ManagedRuntime.ManagedRuntime<Server, unknown>;
let httpUrl = "";
let grpcUrl = "";

beforeAll(async () => {
  proxy = await startProxy({ host: url.hostname, port: Number(url.port || 5432) });
  const proxied = new URL(url);
  proxied.hostname = "127.0.0.1";
  proxied.port = String(proxy.port);
  runtime = ManagedRuntime.make(
    serve<never>({ name: "readiness-test", services: [], config: { httpPort: 0, grpcPort: 0, logLevel: "warn", shutdownGraceMs: 2000 } }).pipe(
      Layer.provide(layerSqlHealth),
      Layer.provide(layerHealth),
      Layer.provide(layerLifecycle),
      Layer.provide(layerSql({ url: proxied.toString(), schema, maxConnections: 2, connectTimeoutSeconds: 2 })),
    ),
  );
  const addresses = await runtime.runPromise(Effect.service(Server));
  httpUrl = addresses.http.url;
  grpcUrl = addresses.grpc.url;
});

afterAll(async () => {
  // After an outage postgres.js may hold the pool's end for its whole close timeout (5 s).
  await runtime?.dispose();
  await proxy?.close();
  const admin = postgres(url.toString(), { max: 1, onnotice: () => {} });
  await admin`drop schema if exists ${admin(schema)} cascade`;
  await admin.end();
}, 20_000);

interface Readiness {
  readonly httpStatus: number;
  readonly status: string;
  readonly postgres: { readonly status: string; readonly error?: string } | undefined;
}

async function readiness(): Promise<Readiness> {
  const response = await fetch(`${httpUrl}/readyz`);
  const body = (await response.json()) as { status: string; dependencies: Record<string, { status: string; error?: string }> };
  return { httpStatus: response.status, status: body.status, postgres: body.dependencies["postgres"] };
}

/** Reads until `done` accepts; the pool notices a cut connection on its next query, not at once. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, attempts = 100): Promise<T> {
  let value = await read();
  for (let i = 0; i < attempts && !done(value); i++) {
    await Bun.sleep(50);
    value = await read();
  }
  return value;
}

const grpcHealth = () => createClient(GrpcHealth, createGrpcTransport({ baseUrl: grpcUrl }));
const grpcStatus = async () => (await grpcHealth().check({ service: "" })).status;

describe("readiness and PostgreSQL", () => {
  test("/readyz is 200 with postgres up", async () => {
    expect(await readiness()).toMatchObject({ httpStatus: 200, status: "healthy", postgres: { status: "up" } });
  });

  test("/readyz turns 503 when PostgreSQL becomes unreachable, and 200 when it returns", async () => {
    await proxy.cut();
    const down = await eventually(readiness, (r) => r.httpStatus === 503);
    expect(down).toMatchObject({ httpStatus: 503, status: "unhealthy", postgres: { status: "down" } });
    expect(down.postgres?.error).toBeString();
    // gRPC health agrees.
    expect(await eventually(grpcStatus, (s) => s === HealthCheckResponse_ServingStatus.NOT_SERVING)).toBe(
      HealthCheckResponse_ServingStatus.NOT_SERVING,
    );

    await proxy.restore();
    expect(await eventually(readiness, (r) => r.httpStatus === 200)).toMatchObject({
      httpStatus: 200,
      status: "healthy",
      postgres: { status: "up" },
    });
    expect(await eventually(grpcStatus, (s) => s === HealthCheckResponse_ServingStatus.SERVING)).toBe(
      HealthCheckResponse_ServingStatus.SERVING,
    );
  });
});
