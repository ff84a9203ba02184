import { describe, expect, test } from "bun:test";
import { Effect, Exit } from "effect";
import { readConfig } from "../config.js";
import { corsConfig, corsOriginsConfig, withCors } from "./cors.js";

const app = "http://app.example:3000";
const handler = async () => new Response("ok", { headers: { "x-request-id": "r-1" } });
const cors = withCors(handler, { allowedOrigins: [app] });

const preflight = (origin: string) =>
  new Request("http://api/meridian.universe.v1.UniverseService/GetSecurity", {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
  });

describe("CORS", () => {
  test("a preflight from an allowed origin is answered with the Connect and Meridian headers allowed", async () => {
    const response = await cors(preflight(app));
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(app);
    expect(response.headers.get("access-control-allow-methods")).toBe("POST, GET, OPTIONS");
    const allowed = response.headers.get("access-control-allow-headers")!.split(", ");
    for (const header of ["content-type", "connect-protocol-version", "connect-timeout-ms", "x-grpc-web", "x-request-id", "traceparent"]) {
      expect(allowed).toContain(header);
    }
  });

  test("a preflight from any other origin is refused, with no CORS headers", async () => {
    const response = await cors(preflight("http://evil.example"));
    expect(response.status).toBe(403);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("an allowed origin's request gets its origin back and the gRPC-Web and Connect headers exposed", async () => {
    const response = await cors(new Request("http://api/x", { method: "POST", headers: { origin: app } }));
    expect(response.headers.get("access-control-allow-origin")).toBe(app);
    expect(response.headers.get("vary")).toBe("Origin");
    const exposed = response.headers.get("access-control-expose-headers")!.split(", ");
    for (const header of ["grpc-status", "grpc-message", "grpc-status-details-bin", "x-request-id", "retry-after"]) {
      expect(exposed).toContain(header);
    }
  });

  test("another origin's request gets no CORS headers, so the browser keeps the answer from the page", async () => {
    const response = await cors(new Request("http://api/x", { method: "POST", headers: { origin: "http://evil.example" } }));
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("requests without an origin, and servers with no origin allowed, are untouched", async () => {
    expect((await cors(new Request("http://api/x"))).headers.get("access-control-allow-origin")).toBeNull();
    expect(withCors(handler, { allowedOrigins: [] })).toBe(handler);
  });

  test("CORS_ALLOWED_ORIGINS is a comma-separated list of origins, validated at start", async () => {
    const read = (value: string) => Effect.runPromiseExit(readConfig(corsConfig, { CORS_ALLOWED_ORIGINS: value }));
    const ok = await read(`${app}, https://b.example`);
    expect(Exit.isSuccess(ok) && ok.value.allowedOrigins).toEqual([app, "https://b.example"]);
    const bad = await read("https://b.example/path");
    expect(Exit.isFailure(bad) && String(bad.cause)).toContain("CORS_ALLOWED_ORIGINS");
    expect(await Effect.runPromise(readConfig(corsConfig, {}))).toEqual({ allowedOrigins: [] });
  });

  test("another variable can carry the allow-list, validated the same way and named when bad", async () => {
    const config = corsOriginsConfig("GATEWAY_CORS_ORIGINS");
    expect(await Effect.runPromise(readConfig(config, { GATEWAY_CORS_ORIGINS: app }))).toEqual({ allowedOrigins: [app] });
    const bad = await Effect.runPromiseExit(readConfig(config, { GATEWAY_CORS_ORIGINS: "nope" }));
    expect(Exit.isFailure(bad) && String(bad.cause)).toContain("GATEWAY_CORS_ORIGINS");
  });
});
