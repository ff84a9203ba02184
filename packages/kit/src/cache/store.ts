/**
 * Where cached values live: Redis (as protobuf bytes), or the process's memory (the message
 * itself). The cache above never lets a store's failure reach a caller; a store reports it.
 */
import type { DescMessage, Message } from "@bufbuild/protobuf";

/**
 * The outcome of a lookup: `hit` carries the bytes of a store shared between processes, decoded
 * per read; `held`, the message this process's memory holds (frozen: every caller shares it);
 * `error` means the store could not answer (down, slow, skipped).
 */
export type Lookup =
  | { readonly _tag: "hit"; readonly bytes: Uint8Array }
  | { readonly _tag: "held"; readonly message: Message }
  | { readonly _tag: "miss" }
  | { readonly _tag: "error"; readonly error: string };

/** A key-value store with expiry. `get` never rejects (and answers at once where it can); the writes may. */
export interface CacheStore {
  readonly get: (key: string) => Lookup | Promise<Lookup>;
  readonly set: (key: string, schema: DescMessage, message: Message, ttlSeconds: number) => Promise<void>;
  readonly delete: (keys: ReadonlyArray<string>) => Promise<void>;
  /** Deletes every key that starts with `prefix`. */
  readonly deletePrefix: (prefix: string) => Promise<void>;
}

export const miss: Lookup = { _tag: "miss" };
