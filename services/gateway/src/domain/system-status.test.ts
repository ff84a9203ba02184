import { describe, expect, test } from "bun:test";
import { allServing, combineEndpoints, healthOf, healthOfGrpcStatus, type ReadinessProbe } from "./system-status.js";

const answered = (httpStatus: number, body: unknown): ReadinessProbe => ({ kind: "answered", httpStatus, body, latencyMs: 3.4 });

describe("a service's health from its readiness", () => {
  test("healthy serves, with its version and no detail", () => {
    expect(healthOf("market", answered(200, { status: "healthy", version: "1.2.0", dependencies: {} }))).toEqual({
      name: "market",
      state: "serving",
      version: "1.2.0",
      latencyMs: 3,
      detail: "",
    });
  });

  test("degraded still serves and names what is down", () => {
    const health = healthOf(
      "trading",
      answered(200, { status: "degraded", version: "1", dependencies: { "downstream:market": { status: "down", error: "circuit open" }, postgres: { status: "up" } } }),
    );
    expect(health.state).toBe("serving");
    expect(health.detail).toBe("degraded: downstream:market down (circuit open)");
  });

  test("unhealthy does not serve: a required dependency down, or the process not running", () => {
    expect(healthOf("p", answered(503, { status: "unhealthy", lifecycle: "running", dependencies: { postgres: { status: "down", error: "refused" } } })))
      .toMatchObject({ state: "not_serving", detail: "postgres down (refused)" });
    expect(healthOf("p", answered(503, { status: "unhealthy", lifecycle: "stopping", dependencies: {} }))).toMatchObject({
      state: "not_serving",
      detail: "lifecycle stopping",
    });
  });

  test("an answer that is not a readiness report does not serve; no answer is unreachable", () => {
    expect(healthOf("x", answered(404, "no such page"))).toMatchObject({ state: "not_serving", detail: "not a readiness report (HTTP 404)" });
    expect(healthOf("x", { kind: "unreachable", error: "connection refused", latencyMs: 1 })).toMatchObject({
      state: "unreachable",
      detail: "connection refused",
    });
  });
});

describe("a service's health from gRPC health", () => {
  test("SERVING serves (no version over this protocol); anything else does not, named", () => {
    expect(healthOfGrpcStatus("trading", 1, 2.6)).toEqual({ name: "trading", state: "serving", version: "", latencyMs: 3, detail: "" });
    expect(healthOfGrpcStatus("trading", 2, 1)).toMatchObject({ state: "not_serving", detail: "grpc.health.v1: NOT_SERVING" });
    expect(healthOfGrpcStatus("trading", 0, 1)).toMatchObject({ state: "not_serving", detail: "grpc.health.v1: UNKNOWN" });
  });
});

describe("several endpoints of a service", () => {
  const serving = healthOf("m", answered(200, { status: "healthy", version: "1" }));
  const down = healthOf("m", { kind: "unreachable", error: "refused", latencyMs: 0 });

  test("one serving endpoint makes the service serving, and the others are named", () => {
    const health = combineEndpoints("m", [
      { url: "http://a", health: serving },
      { url: "http://b", health: down },
    ]);
    expect(health.state).toBe("serving");
    expect(health.detail).toBe("1/2 endpoints serving; http://b: unreachable refused");
  });

  test("none serving: the first endpoint's state; none configured: unreachable", () => {
    expect(combineEndpoints("m", [{ url: "http://a", health: down }, { url: "http://b", health: down }]).state).toBe("unreachable");
    expect(combineEndpoints("m", [])).toMatchObject({ state: "unreachable", detail: "no endpoint configured" });
  });

  test("the platform is healthy only when every service serves", () => {
    expect(allServing([serving, serving])).toBe(true);
    expect(allServing([serving, down])).toBe(false);
    expect(allServing([])).toBe(false);
  });
});
