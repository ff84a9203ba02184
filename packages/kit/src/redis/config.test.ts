import { expect, test } from "bun:test";
import { Effect } from "effect";
import { readConfig } from "../config.js";
import { redisConfig } from "./config.js";

test("REDIS_URL is optional: unset selects the in-process cache and event bus", async () => {
  expect(await Effect.runPromise(readConfig(redisConfig, {}))).toEqual({ redisUrl: undefined, keyPrefix: "" });
  expect(await Effect.runPromise(readConfig(redisConfig, { REDIS_URL: "redis://cache:6379" }))).toEqual({
    redisUrl: "redis://cache:6379",
    keyPrefix: "",
  });
});

test("REDIS_KEY_PREFIX puts every key of a deployment under a prefix", async () => {
  expect(await Effect.runPromise(readConfig(redisConfig, { REDIS_URL: "redis://cache:6379", REDIS_KEY_PREFIX: "staging:" }))).toEqual({
    redisUrl: "redis://cache:6379",
    keyPrefix: "staging:",
  });
});
