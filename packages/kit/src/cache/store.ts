/**
 * Where cached bytes live: Redis, or the process's memory. The cache above never lets a store's
 * failure reach a caller; a store reports it.
 */

/** The outcome of a lookup. `error` means the store could not answer (down, slow, skipped). */
export type Lookup =
  | { readonly _tag: "hit"; readonly bytes: Uint8Array }
  | { readonly _tag: "miss" }
  | { readonly _tag: "error"; readonly error: string };

/** A key-value store with expiry. `get` never rejects; the writes may. */
export interface CacheStore {
  readonly get: (key: string) => Promise<Lookup>;
  readonly set: (key: string, bytes: Uint8Array, ttlSeconds: number) => Promise<void>;
  readonly delete: (keys: ReadonlyArray<string>) => Promise<void>;
  /** Deletes every key that starts with `prefix`. */
  readonly deletePrefix: (prefix: string) => Promise<void>;
}

export const miss: Lookup = { _tag: "miss" };
