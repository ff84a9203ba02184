/**
 * Authentication and CORS at the gateway, served alone on loopback (its
 * downstreams unreachable): every RPC needs a valid API key, health and the
 * status page do not; keys are stored hashed; the dev key is made once or
 * taken from GATEWAY_DEV_API_KEY; browsers from listed origins only.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Effect } from "effect";
import postgres from "postgres";
import { createEffectClient } from "@meridian/sdk";
import { Gateway } from "@meridian/sdk/gateway";
import { generateApiKey, hashApiKey } from "../src/domain/api-keys.js";
import { startServer, type TestServer } from "../../../packages/kit/src/client/test-servers.js";
import { closedPort, logged, startGatewayAlone, type GatewayAlone } from "./gateway-alone.js";

const devApiKey = generateApiKey();
const pageOrigin = "http://app.example:3000";
let gateway: GatewayAlone;
// A real kit server standing in for a remote service: its /readyz is what the status report reads.
let remote: TestServer;

beforeAll(async () => {
  remote = await startServer([]);
  gateway = await startGatewayAlone({
    devApiKey,
    corsOrigins: [pageOrigin],
    env: {
      MERIDIAN_UNIVERSE_URL: remote.httpUrl,
      MERIDIAN_SCORING_URL: `${remote.httpUrl},${closedPort}`,
      MERIDIAN_TRADING_URL: remote.grpcUrl,
      MERIDIAN_TRADING_PROTOCOL: "grpc",
    },
  });
}, 60_000);
afterAll(async () => {
  await gateway?.stop();
  await remote?.stop();
}, 30_000);

const rpc = (method: string, headers: Record<string, string> = {}, body: unknown = {}) =>
  fetch(`${gateway.url}/meridian.gateway.v1.GatewayService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

const client = () => createEffectClient(Gateway, { baseUrl: gateway.url, policy: { retry: false } });
const bearer = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });

describe("API keys", () => {
  test("a call without a key is unauthenticated, on every method", async () => {
    for (const method of ["GetSystemStatus", "OpenAccount", "ListAccounts", "GetPortfolio", "RunTradingCycle", "PlaceOrder"]) {
      const response = await rpc(method);
      expect(response.status).toBe(401);
      expect(((await response.json()) as { code: string }).code).toBe("unauthenticated");
    }
    const error = await Effect.runPromise(Effect.flip(client().getSystemStatus({})));
    expect(error._tag).toBe("Unauthenticated");
  });

  test("the stream is refused the same way", async () => {
    const stream = createEffectClient(Gateway, { baseUrl: gateway.url, policy: { retry: false } }).watchEvents({ accountId: "a" });
    const { Stream } = await import("effect");
    const error = await Effect.runPromise(Effect.flip(Stream.runCollect(stream)));
    expect(error._tag).toBe("Unauthenticated");
  });

  test("an unknown key, a malformed one and another scheme are unauthenticated", async () => {
    for (const authorization of [`Bearer ${generateApiKey()}`, "Bearer mk_short", `Basic ${btoa("dev:pw")}`, devApiKey]) {
      const error = await Effect.runPromise(Effect.flip(client().listAccounts({}, { headers: { authorization } })));
      expect(error._tag).toBe("Unauthenticated");
    }
  });

  test("the dev key from GATEWAY_DEV_API_KEY authenticates as owner dev", async () => {
    expect(gateway.devKey).toEqual({ key: devApiKey, source: "environment" });
    const status = await Effect.runPromise(client().getSystemStatus({}, bearer(devApiKey)));
    expect(status.services.map((s) => s.name)).toEqual(["gateway", "universe", "market", "scoring", "portfolio", "trading", "planning"]);
  });

  test("only the key's SHA-256 is stored, never the key", async () => {
    const sql = postgres(gateway.database.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql<Array<{ key_hash: string; owner: string; key_prefix: string }>>`select key_hash, owner, key_prefix from gateway.api_keys`;
      expect([...rows]).toEqual([{ key_hash: hashApiKey(devApiKey), owner: "dev", key_prefix: devApiKey.slice(0, 9) }]);
      const dump = JSON.stringify(await sql`select * from gateway.api_keys`);
      expect(dump).not.toContain(devApiKey.slice(9));
    } finally {
      await sql.end();
    }
  });

  test("health, readiness and the status page's files need no key", async () => {
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200);
    const root = await fetch(`${gateway.url}/`, { redirect: "manual" });
    expect(root.headers.get("location")).toBe("/status/");
    const page = await fetch(`${gateway.url}/status/`);
    expect(page.headers.get("content-type")).toStartWith("text/html");
    expect(await page.text()).toContain('<script type="module" src="/status/app.js">');
    const script = await fetch(`${gateway.url}/status/app.js`);
    expect(script.headers.get("content-type")).toStartWith("text/javascript");
    const bundle = await script.text();
    // The page's own code, bundled for the browser: no Node built-ins.
    expect(bundle.includes("meridian.apiKey")).toBe(true);
    expect(/from\s*["']node:|require\(["']node:/.test(bundle)).toBe(false);
  }, 30_000);
});

describe("the platform status seen from the gateway alone", () => {
  test("remote services by their /readyz, unreachable ones with why, and a breaker that opened after failed calls", async () => {
    const status = await Effect.runPromise(client().getSystemStatus({}, bearer(devApiKey)));
    const byName = Object.fromEntries(status.services.map((s) => [s.name, s]));
    expect(status.healthy).toBe(false);
    expect(byName.gateway!.state).toBe("serving");
    expect(byName.market).toMatchObject({ state: "unreachable", breaker: "closed" });
    expect(byName.market!.detail).toContain("http://127.0.0.1:9/readyz");
    // Reached over gRPC (an HTTP/2 port without /readyz): asked grpc.health.v1, which carries no version.
    expect(byName.trading).toMatchObject({ state: "serving", version: "", breaker: "closed", detail: "" });
    // A remote service that answers its /readyz serves, with its version; one endpoint of two is enough.
    expect(byName.universe).toMatchObject({ state: "serving", version: "0.1.0", breaker: "", detail: "" });
    expect(byName.scoring!.state).toBe("serving");
    expect(byName.scoring!.detail).toStartWith(`1/2 endpoints serving; ${closedPort}/readyz: unreachable`);

    // Five failed calls to portfolio in a row (retries off for it in this gateway) open its breaker.
    for (let i = 0; i < 5; i++) {
      const error = await Effect.runPromise(Effect.flip(client().getPortfolio({ accountId: "acc-1" }, bearer(devApiKey))));
      expect(error._tag).toBe("Unavailable");
    }
    const after = await Effect.runPromise(client().getSystemStatus({}, bearer(devApiKey)));
    expect(after.services.find((s) => s.name === "portfolio")?.breaker).toBe("open");
    expect(after.services.find((s) => s.name === "market")?.breaker).toBe("closed");
  }, 30_000);
});

describe("the dev key at first start", () => {
  test("is made and logged once; a later start over the same keys makes none, and the first key still works", async () => {
    const first = await startGatewayAlone();
    try {
      expect(first.devKey.source).toBe("created");
      const key = first.devKey.key!;
      const lines = logged.filter((l) => l.api_key === key);
      expect(lines).toHaveLength(1);
      expect(lines[0]!.owner).toBe("dev");
      await first.stop(true);
      const second = await startGatewayAlone({ database: first.database });
      try {
        expect(second.devKey).toEqual({ key: undefined, source: "earlier start" });
        expect(logged.filter((l) => l.api_key !== undefined && l.api_key !== key)).toHaveLength(0);
        const status = await Effect.runPromise(
          createEffectClient(Gateway, { baseUrl: second.url, policy: { retry: false } }).getSystemStatus({}, bearer(key)),
        );
        expect(status.services[0]?.state).toBe("serving");
      } finally {
        await second.stop(true);
      }
    } finally {
      await first.database.drop();
    }
  }, 60_000);
});

describe("CORS", () => {
  const preflight = (origin: string) =>
    fetch(`${gateway.url}/meridian.gateway.v1.GatewayService/GetSystemStatus`, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
    });

  test("a preflight from an allowed origin is answered, the authorization header allowed", async () => {
    const response = await preflight(pageOrigin);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(pageOrigin);
    expect(response.headers.get("access-control-allow-headers")!.split(", ")).toContain("authorization");
  });

  test("a preflight from another origin is refused", async () => {
    const response = await preflight("http://evil.example");
    expect(response.status).toBe(403);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("a call from an allowed origin carries its origin back; from another origin it does not", async () => {
    const allowed = await rpc("GetSystemStatus", { origin: pageOrigin, authorization: `Bearer ${devApiKey}` });
    expect(allowed.headers.get("access-control-allow-origin")).toBe(pageOrigin);
    const other = await rpc("GetSystemStatus", { origin: "http://evil.example", authorization: `Bearer ${devApiKey}` });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });
});
