/**
 * The cache in the process's memory, for when REDIS_URL is unset and for a service's near cache:
 * the same expiry, a bound on the number of entries (least recently used go first), nothing shared
 * between processes. It holds the messages themselves, frozen, so a hit is neither decoded nor
 * copied, and answers at once.
 */
import type { Message } from "@bufbuild/protobuf";
import { LruMap } from "./lru.js";
import { miss, type CacheStore, type Lookup } from "./store.js";

interface Entry {
  readonly held: Extract<Lookup, { _tag: "held" }>;
  readonly expiresAt: number;
}

/** A store holding at most `maxEntries` entries (default 10,000). */
export function memoryStore(options: { readonly maxEntries?: number } = {}): CacheStore {
  const maxEntries = options.maxEntries ?? 10_000;
  const entries = new LruMap<string, Entry>(maxEntries);

  return {
    get: (key) => {
      const entry = entries.get(key);
      if (entry === undefined) return miss;
      if (entry.expiresAt <= Date.now()) {
        entries.delete(key);
        return miss;
      }
      return entry.held;
    },
    set: async (key, _schema, message, ttlSeconds) => {
      entries.set(key, { held: { _tag: "held", message: freezeDeep(message) }, expiresAt: Date.now() + ttlSeconds * 1000 });
    },
    delete: async (keys) => {
      for (const key of keys) entries.delete(key);
    },
    deletePrefix: async (prefix) => {
      for (const key of [...entries.keys()]) if (key.startsWith(prefix)) entries.delete(key);
    },
  };
}

/**
 * Freezes a message and every message, list and map in it (bytes fields excepted: a typed array
 * cannot be frozen). A held message is shared by every caller: one that changed it would change
 * it for all, so changing it throws instead.
 */
function freezeDeep<A extends Message>(message: A): A {
  const freeze = (value: unknown): void => {
    if (typeof value !== "object" || value === null || ArrayBuffer.isView(value)) return;
    Object.freeze(value);
    for (const inner of Object.values(value)) freeze(inner);
  };
  freeze(message);
  return message;
}
