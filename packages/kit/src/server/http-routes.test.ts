/**
 * Plain HTTP routes beside the RPCs (serve's `httpRoutes`): a prefix route
 * serves everything under it, an exact route only itself, RPCs and health keep
 * their paths, and a route that throws answers 500 without taking the server down.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Effect, Layer, ManagedRuntime } from "effect";
import { layerHealth } from "../health.js";
import { layerLifecycle } from "../lifecycle.js";
import { serve, Server } from "./serve.js";

const runtime = ManagedRuntime.make(
  serve<never>({
    name: "routes",
    services: [],
    config: { host: "127.0.0.1", httpPort: 0, grpcPort: 0, shutdownGraceMs: 200, logLevel: "fatal" },
    httpRoutes: [
      { path: "/", fetch: () => Response.redirect("/page/", 302) },
      { path: "/page/", prefix: true, fetch: (request) => new Response(`page ${new URL(request.url).pathname}`) },
      {
        path: "/broken",
        fetch: () => {
          throw new Error("bug");
        },
      },
    ],
  }).pipe(Layer.provideMerge(layerHealth), Layer.provideMerge(layerLifecycle)),
);
let base = "";

beforeAll(async () => {
  base = (await runtime.runPromise(Effect.service(Server))).http.url;
});
afterAll(() => runtime.dispose());

test("a prefix route serves every path under it; an exact route only itself", async () => {
  expect(await (await fetch(`${base}/page/`)).text()).toBe("page /page/");
  expect(await (await fetch(`${base}/page/app.js`)).text()).toBe("page /page/app.js");
  const root = await fetch(`${base}/`, { redirect: "manual" });
  expect(root.status).toBe(302);
  expect(root.headers.get("location")).toBe("/page/");
});

test("health and unknown methods keep their answers", async () => {
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
  const unknown = await fetch(`${base}/pkg.Nope/Method`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  expect(unknown.status).toBe(404);
  expect(((await unknown.json()) as { code: string }).code).toBe("unimplemented");
});

test("a route that throws answers 500 and the server keeps serving", async () => {
  expect((await fetch(`${base}/broken`)).status).toBe(500);
  expect((await fetch(`${base}/page/`)).status).toBe(200);
});
