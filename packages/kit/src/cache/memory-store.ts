/**
 * The cache's bytes in the process's memory, for when REDIS_URL is unset: the same expiry, a
 * bound on the number of entries (least recently used go first), nothing shared between processes.
 */
import { LruMap } from "./lru.js";
import { miss, type CacheStore, type Lookup } from "./store.js";

interface Entry {
  readonly bytes: Uint8Array;
  readonly expiresAt: number;
}

/** A store holding at most `maxEntries` entries (default 10,000). */
export function memoryStore(options: { readonly maxEntries?: number } = {}): CacheStore {
  const maxEntries = options.maxEntries ?? 10_000;
  const entries = new LruMap<string, Entry>(maxEntries);

  const read = (key: string): Lookup => {
    const entry = entries.get(key);
    if (entry === undefined) return miss;
    if (entry.expiresAt <= Date.now()) {
      entries.delete(key);
      return miss;
    }
    return { _tag: "hit", bytes: entry.bytes };
  };

  return {
    get: async (key) => read(key),
    set: async (key, bytes, ttlSeconds) => {
      // Copied, so a caller reusing its buffer cannot change what is cached.
      entries.set(key, { bytes: bytes.slice(), expiresAt: Date.now() + ttlSeconds * 1000 });
    },
    delete: async (keys) => {
      for (const key of keys) entries.delete(key);
    },
    deletePrefix: async (prefix) => {
      for (const key of [...entries.keys()]) if (key.startsWith(prefix)) entries.delete(key);
    },
  };
}
