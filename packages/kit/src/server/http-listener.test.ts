/**
 * Routing by path in the HTTP listener: handlers of exact paths (Bun.serve `routes`) take the
 * requests to their path, with the peer's address; everything else reaches `fetch`. And the
 * server's per-path handlers answer exactly as its full handler does: the Connect fast path when
 * the request takes it, Connect's generic handler (e.g. gRPC-Web) when it does not.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Effect, Exit, Layer, ManagedRuntime, Scope } from "effect";
import { layerHealth } from "../health.js";
import { layerLifecycle } from "../lifecycle.js";
import { listenHttp } from "./http-listener.js";
import { serve, Server } from "./serve.js";

test("a path handler answers its exact path with the peer's address; other paths reach fetch", async () => {
  const scope = Effect.runSync(Scope.make());
  try {
    const listener = await Effect.runPromise(
      listenHttp({
        host: "127.0.0.1",
        port: 0,
        graceMs: 100,
        fetch: async (request) => new Response(`fetch ${new URL(request.url).pathname}`),
        byPath: new Map([["/pkg.Service/Method", async (request, peer) => new Response(`path ${request.method} ${peer?.()}`)]]),
      }).pipe(Scope.provide(scope)),
    );
    const routed = await (await fetch(`${listener.url}/pkg.Service/Method`, { method: "POST", body: "{}" })).text();
    expect(routed).toMatch(/^path POST 127\.0\.0\.1:\d+$/);
    expect(await (await fetch(`${listener.url}/pkg.Service/Other`, { method: "POST" })).text()).toBe("fetch /pkg.Service/Other");
    expect(await (await fetch(`${listener.url}/pkg.Service/Method/more`)).text()).toBe("fetch /pkg.Service/Method/more");
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void));
  }
});

// A server with CORS off routes its unary paths through Bun's routes (serve passes byPath).
const runtime = ManagedRuntime.make(
  serve<never>({
    name: "listener",
    services: [],
    config: { host: "127.0.0.1", httpPort: 0, grpcPort: 0, shutdownGraceMs: 200, logLevel: "fatal" },
    cors: { allowedOrigins: [] },
  }).pipe(Layer.provideMerge(layerHealth), Layer.provideMerge(layerLifecycle)),
);
let base = "";
beforeAll(async () => {
  base = (await runtime.runPromise(Effect.service(Server))).http.url;
});
afterAll(() => runtime.dispose());

const check = "/grpc.health.v1.Health/Check";

test("a unary path served by path answers Connect JSON on the fast path, with the caller's correlation id", async () => {
  const response = await fetch(`${base}${check}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-request-id": "req-routed-1" },
    body: "{}",
  });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("application/json");
  expect(response.headers.get("x-request-id")).toBe("req-routed-1");
  expect(await response.json()).toEqual({ status: "SERVING" });
});

test("a unary path served by path still takes Connect's generic handler for what the fast path leaves (gRPC-Web, bad content type)", async () => {
  const grpcWeb = await fetch(`${base}${check}`, {
    method: "POST",
    headers: { "content-type": "application/grpc-web+proto", "x-request-id": "req-routed-2" },
    body: new Uint8Array([0, 0, 0, 0, 0]),
  });
  expect(grpcWeb.status).toBe(200);
  expect(grpcWeb.headers.get("x-request-id")).toBe("req-routed-2");
  const body = new Uint8Array(await grpcWeb.arrayBuffer());
  const trailer = new TextDecoder().decode(body.subarray(body.lastIndexOf(0x80) + 5));
  expect(trailer).toContain("grpc-status: 0");

  const wrongType = await fetch(`${base}${check}`, { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" });
  expect(wrongType.status).toBe(415);
});
