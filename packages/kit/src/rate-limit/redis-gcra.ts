/**
 * GCRA (gcra.ts) on Redis: one script call per request, atomic per key, timed by the Redis
 * server's clock so every instance of a service shares one allowance whatever its own clock says.
 * The key expires when its allowance is full again, so idle keys cost nothing.
 */
import type { RedisClient } from "../redis/connection.js";
import { gcraParameters } from "./gcra.js";
import type { RateStore, Verdict } from "./rate-limiter.js";

/** Key prefix and how long the limiter may take before the request is let through. */
export interface RedisGcraOptions {
  /** Before every key (REDIS_KEY_PREFIX), default none. */
  readonly keyPrefix?: string;
  /** Per-request timeout, ms (default 100). */
  readonly timeoutMs?: number;
}

// KEYS[1]: the key; ARGV: interval ms, tolerance ms. Returns 0 when allowed, else ms until it would be.
// The TAT is stored with three decimals: a sub-millisecond interval (over 1,000 requests/s) must not round away.
const script = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local allowedFrom = tat - tolerance
if now < allowedFrom then
  return math.max(1, math.ceil(allowedFrom - now))
end
local next = tat + interval
redis.call('SET', KEYS[1], string.format('%.3f', next), 'PX', math.max(1, math.ceil(next - now)))
return 0
`;

/** The rate store on `client`. */
export function redisGcra(client: RedisClient, options: RedisGcraOptions = {}): RateStore {
  const prefix = `${options.keyPrefix ?? ""}ratelimit:`;
  const timeoutMs = options.timeoutMs ?? 100;
  let sha: string | undefined;

  const run = async (key: string, intervalMs: number, toleranceMs: number): Promise<number> => {
    const args = [String(intervalMs), String(toleranceMs)];
    if (sha !== undefined) {
      try {
        return (await client.evalSha(sha, { keys: [key], arguments: args })) as number;
      } catch (e) {
        // A restarted Redis forgot the script: load it again below.
        if (!(e instanceof Error && e.message.startsWith("NOSCRIPT"))) throw e;
      }
    }
    sha = await client.scriptLoad(script);
    return (await client.evalSha(sha, { keys: [key], arguments: args })) as number;
  };

  return {
    take: (limit, key) => {
      if (!client.isReady) return Promise.resolve({ _tag: "unknown", error: "redis is not connected" });
      const { intervalMs, toleranceMs } = gcraParameters(limit);
      return new Promise<Verdict>((resolve) => {
        const timer = setTimeout(() => resolve({ _tag: "unknown", error: `no answer from redis in ${timeoutMs} ms` }), timeoutMs);
        run(`${prefix}${limit.name}:${key}`, intervalMs, toleranceMs).then(
          (wait) => {
            clearTimeout(timer);
            resolve(wait === 0 ? { _tag: "allowed" } : { _tag: "limited", retryAfterMs: wait });
          },
          (e: unknown) => {
            clearTimeout(timer);
            resolve({ _tag: "unknown", error: e instanceof Error ? e.message || e.name : String(e) });
          },
        );
      });
    },
  };
}
