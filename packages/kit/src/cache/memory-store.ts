/**
 * The cache's bytes in the process's memory, for when REDIS_URL is unset: the same expiry, a
 * bound on the number of entries (least recently used go first), nothing shared between processes.
 */
import { miss, type CacheStore, type Lookup } from "./store.js";

interface Entry {
  readonly bytes: Uint8Array;
  readonly expiresAt: number;
}

/** A store holding at most `maxEntries` entries (default 10,000). */
export function memoryStore(options: { readonly maxEntries?: number } = {}): CacheStore {
  const maxEntries = options.maxEntries ?? 10_000;
  // A Map iterates in insertion order: re-inserting on read keeps the least recently used first.
  const entries = new Map<string, Entry>();

  const read = (key: string): Lookup => {
    const entry = entries.get(key);
    if (entry === undefined) return miss;
    entries.delete(key);
    if (entry.expiresAt <= Date.now()) return miss;
    entries.set(key, entry);
    return { _tag: "hit", bytes: entry.bytes };
  };

  return {
    get: async (key) => read(key),
    set: async (key, bytes, ttlSeconds) => {
      entries.delete(key);
      // Copied, so a caller reusing its buffer cannot change what is cached.
      entries.set(key, { bytes: bytes.slice(), expiresAt: Date.now() + ttlSeconds * 1000 });
      if (entries.size > maxEntries) evict(entries, maxEntries);
    },
    delete: async (keys) => {
      for (const key of keys) entries.delete(key);
    },
    deletePrefix: async (prefix) => {
      for (const key of [...entries.keys()]) if (key.startsWith(prefix)) entries.delete(key);
    },
  };
}

// The least recently used go first (expired ones are dropped when next read).
function evict(entries: Map<string, Entry>, maxEntries: number): void {
  for (const key of entries.keys()) {
    if (entries.size <= maxEntries) return;
    entries.delete(key);
  }
}
