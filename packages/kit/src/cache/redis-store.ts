/**
 * The cache's bytes in Redis: reads bounded by a short timeout, and skipped for a moment after
 * several failures in a row, so a down or hung Redis costs callers at most one timeout each.
 */
import { toBinary } from "@bufbuild/protobuf";
import { RESP_TYPES } from "redis";
import type { RedisClient } from "../redis/connection.js";
import { miss, type CacheStore, type Lookup } from "./store.js";

/** How long a read or write may take, and when to stop trying for a while. */
export interface RedisStoreOptions {
  /** Per-command timeout, ms (default 100). */
  readonly timeoutMs?: number;
  /** Failures in a row after which Redis is skipped (default 5). */
  readonly failuresToSkip?: number;
  /** How long it is skipped before one request tries again, ms (default 1000). */
  readonly skipMs?: number;
}

const asBuffer = { [RESP_TYPES.BLOB_STRING]: Buffer } as const;

/** A store on `client`; every key is `keyPrefix` + the cache key. */
export function redisStore(client: RedisClient, keyPrefix: string, options: RedisStoreOptions = {}): CacheStore {
  const timeout = options.timeoutMs ?? 100;
  const failuresToSkip = options.failuresToSkip ?? 5;
  const skipMs = options.skipMs ?? 1000;
  let failuresInARow = 0;
  let skipUntil = 0;

  const succeeded = () => {
    failuresInARow = 0;
  };
  const failed = () => {
    failuresInARow += 1;
    if (failuresInARow >= failuresToSkip) skipUntil = Date.now() + skipMs;
  };
  // While skipping, one caller per window goes through as a probe.
  const skipping = (): boolean => {
    if (failuresInARow < failuresToSkip) return false;
    const now = Date.now();
    if (now < skipUntil) return true;
    skipUntil = now + skipMs;
    return false;
  };
  const guarded = async <A>(run: () => Promise<A>): Promise<A> => {
    if (!client.isReady) throw new Error("redis is not connected");
    if (skipping()) throw new Error("redis skipped after repeated failures");
    try {
      const result = await run();
      succeeded();
      return result;
    } catch (e) {
      failed();
      throw e;
    }
  };

  // The read path is the hot one: no async wrappers, one timer shared by every read in flight.
  const deadlines = deadlineSweeper();
  return {
    get: (key) => {
      if (!client.isReady) return Promise.resolve(disconnected);
      if (skipping()) return Promise.resolve(skipped);
      return new Promise<Lookup>((resolve) => {
        const expire = deadlines.add(timeout, () => {
          failed();
          resolve({ _tag: "error", error: `no answer from redis in ${timeout} ms` });
        });
        client.sendCommand<Buffer | null>(["GET", keyPrefix + key], { typeMapping: asBuffer }).then(
          (reply) => {
            if (!expire()) return;
            succeeded();
            resolve(reply === null ? miss : { _tag: "hit", bytes: reply });
          },
          (e: unknown) => {
            if (!expire()) return;
            failed();
            resolve({ _tag: "error", error: describe(e) });
          },
        );
      });
    },
    set: async (key, schema, message, ttlSeconds) => {
      const bytes = toBinary(schema, message);
      await guarded(() =>
        within(
          timeout,
          client.sendCommand([
            "SET",
            keyPrefix + key,
            Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
            "PX",
            String(Math.max(1, Math.round(ttlSeconds * 1000))),
          ]),
        ),
      );
    },
    delete: async (keys) => {
      if (keys.length === 0) return;
      await guarded(() => within(timeout, client.sendCommand(["UNLINK", ...keys.map((k) => keyPrefix + k)])));
    },
    deletePrefix: async (prefix) => {
      // SCAN walks the keyspace in pages; each page's matches are unlinked as they come.
      let cursor = "0";
      do {
        const [next, keys] = await guarded(() =>
          within(
            timeout * 10,
            client.sendCommand<[string, string[]]>(["SCAN", cursor, "MATCH", `${escapeGlob(keyPrefix + prefix)}*`, "COUNT", "1000"]),
          ),
        );
        cursor = next;
        if (keys.length > 0) await guarded(() => within(timeout, client.sendCommand(["UNLINK", ...keys])));
      } while (cursor !== "0");
    },
  };
}

const disconnected: Lookup = { _tag: "error", error: "redis is not connected" };
const skipped: Lookup = { _tag: "error", error: "redis skipped after repeated failures" };

/**
 * Deadlines for many short requests on one timer: `add` registers a callback to run if the
 * returned `settle` is not called within `timeoutMs`; `settle` returns false once it has run.
 */
function deadlineSweeper() {
  const pending = new Map<object, { readonly at: number; readonly onExpiry: () => void }>();
  let timer: ReturnType<typeof setInterval> | undefined;
  const sweep = () => {
    const now = performance.now();
    for (const [token, entry] of pending) {
      if (entry.at > now) continue;
      pending.delete(token);
      entry.onExpiry();
    }
    if (pending.size === 0) {
      clearInterval(timer);
      timer = undefined;
    }
  };
  return {
    add(timeoutMs: number, onExpiry: () => void): () => boolean {
      const token = {};
      pending.set(token, { at: performance.now() + timeoutMs, onExpiry });
      // A quarter of the timeout as granularity: a read gives up within 1.25× its timeout.
      timer ??= setInterval(sweep, Math.max(5, timeoutMs / 4));
      return () => pending.delete(token);
    },
  };
}

// node-redis times out only commands not yet written; a written one waits for its reply forever
// if the server hangs. The reply, if it ever comes, is dropped.
function within<A>(timeoutMs: number, reply: Promise<A>): Promise<A> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from redis in ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([reply, expired]).finally(() => clearTimeout(timer));
}

const escapeGlob = (text: string): string => text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

const describe = (e: unknown): string => (e instanceof Error ? e.message || e.name : String(e));
