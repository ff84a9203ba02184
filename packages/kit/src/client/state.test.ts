/**
 * clientState: the breaker of each endpoint of a locator-made client, as it
 * stands, read without making a call.
 */
import { afterAll, expect, test } from "bun:test";
import { Effect, ManagedRuntime } from "effect";
import { Universe } from "@meridian/sdk/universe";
import { layerClient, ServiceClient } from "./locator.js";
import { clientState } from "./state.js";
import { startServer } from "./test-servers.js";

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test("a client's state shows its endpoint's breaker closed, then open after the endpoint died", async () => {
  const dead = await startServer([]);
  const url = `http://127.0.0.1:${dead.httpPort}`;
  await dead.stop(); // connections are refused from now on
  const env = { MERIDIAN_UNIVERSE_URL: url, MERIDIAN_UNIVERSE_RETRIES: "0", MERIDIAN_UNIVERSE_BREAKER_FAILURES: "2" };
  const runtime = ManagedRuntime.make(layerClient(Universe, { env }));
  cleanups.push(() => runtime.dispose());
  const client = await runtime.runPromise(Effect.service(ServiceClient(Universe)));

  expect(clientState(client)).toMatchObject({ downstream: "universe", endpoints: [{ url, breaker: "closed" }] });
  for (let i = 0; i < 2; i++) await Effect.runPromise(Effect.flip(client.listSecurities({})));
  expect(clientState(client)?.endpoints[0]?.breaker).toBe("open");
});

test("any other object has no client state", () => {
  expect(clientState({})).toBeUndefined();
});
