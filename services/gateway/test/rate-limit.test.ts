/**
 * The gateway's per-key rate limit, served alone on loopback: each API key gets its burst, then
 * resource_exhausted with a RateLimited detail and `retry-after` (to curl, and typed to the SDK);
 * other keys and unauthenticated calls are not charged; gateways on one Redis share one allowance.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Effect } from "effect";
import { dropRedisKeys } from "@meridian/kit/testing";
import { createEffectClient } from "@meridian/sdk";
import { Gateway } from "@meridian/sdk/gateway";
import { generateApiKey } from "../src/domain/api-keys.js";
import { startGatewayAlone, type GatewayAlone } from "./gateway-alone.js";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const redisKeyPrefix = `test:gateway-rate:${crypto.randomUUID().slice(0, 8)}:`;
// Slow enough that no allowance comes back while a test runs: one request a minute.
const rateLimit = { perSecond: 1 / 60, burst: 3 };
const gateways: GatewayAlone[] = [];

afterAll(async () => {
  for (const g of gateways) await g.stop();
  await dropRedisKeys(redisUrl, redisKeyPrefix);
}, 30_000);

const start = async (options: Parameters<typeof startGatewayAlone>[0]) => {
  const gateway = await startGatewayAlone(options);
  gateways.push(gateway);
  return gateway;
};

const getStatus = (url: string, key?: string) =>
  fetch(`${url}/meridian.gateway.v1.GatewayService/GetSystemStatus`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key === undefined ? {} : { authorization: `Bearer ${key}` }) },
    body: "{}",
  });

describe("in-process limiter", () => {
  const devApiKey = generateApiKey();
  let gateway: GatewayAlone;
  beforeAll(async () => {
    gateway = await start({ devApiKey, rateLimit });
  }, 60_000);

  test("a key gets its burst, then resource_exhausted with RateLimited and retry-after", async () => {
    for (let i = 0; i < 3; i++) expect((await getStatus(gateway.url, devApiKey)).status).toBe(200);
    const refused = await getStatus(gateway.url, devApiKey);
    expect(refused.status).toBe(429);
    const body = (await refused.json()) as { code: string; message: string; details: Array<{ type: string }> };
    expect(body.code).toBe("resource_exhausted");
    expect(body.message).toContain("rate limit exceeded (gateway_api_key");
    expect(body.details.map((d) => d.type)).toContain("meridian.common.v1.RateLimited");
    // About a minute until the next request: the header in whole seconds, rounded up.
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(50);
    expect(retryAfter).toBeLessThanOrEqual(60);

    // The SDK reads it as the typed error, with the same hint in milliseconds.
    const client = createEffectClient(Gateway, { baseUrl: gateway.url, policy: { retry: false } });
    const error = await Effect.runPromise(Effect.flip(client.getSystemStatus({}, { headers: { authorization: `Bearer ${devApiKey}` } })));
    expect(error._tag).toBe("RateLimited");
    if (error._tag === "RateLimited") expect(Number(error.retryAfterMs)).toBeGreaterThan(50_000);
  });

  test("calls without a valid key are refused as unauthenticated, not charged to anyone", async () => {
    for (let i = 0; i < 5; i++) {
      expect((await getStatus(gateway.url)).status).toBe(401);
      expect((await getStatus(gateway.url, generateApiKey())).status).toBe(401);
    }
  });
});

describe("limiter on Redis", () => {
  test("two gateways on one Redis share each key's allowance; another key has its own", async () => {
    const devApiKey = generateApiKey();
    const first = await start({ devApiKey, rateLimit, redisUrl, redisKeyPrefix });
    const second = await start({ devApiKey, rateLimit, redisUrl, redisKeyPrefix });
    expect((await getStatus(first.url, devApiKey)).status).toBe(200);
    expect((await getStatus(second.url, devApiKey)).status).toBe(200);
    expect((await getStatus(first.url, devApiKey)).status).toBe(200);
    expect((await getStatus(second.url, devApiKey)).status).toBe(429);
    expect((await getStatus(first.url, devApiKey)).status).toBe(429);

    const third = await start({ devApiKey: generateApiKey(), rateLimit, redisUrl, redisKeyPrefix });
    expect((await getStatus(third.url, third.devKey.key)).status).toBe(200);
  }, 60_000);
});
