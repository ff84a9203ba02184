/**
 * The api_keys table: the gateway's only state, next to the code that uses it.
 */
import { Context, Effect, Layer } from "effect";
import { query, type Sql } from "@meridian/kit/postgres";
import type { Unavailable } from "@meridian/kit";

/** A key as stored: its hash, never the key. */
export interface StoredKey {
  readonly keyHash: string;
  readonly keyPrefix: string;
  readonly owner: string;
  readonly label: string;
}

/** What the gateway needs from storage. */
export interface ApiKeyStoreShape {
  /** The owner of the key with this hash, unless it is unknown or revoked. */
  readonly ownerOf: (keyHash: string) => Effect.Effect<string | undefined, Unavailable>;
  /** Stores a key; storing the same hash again changes nothing. Says whether it was new. */
  readonly add: (key: StoredKey) => Effect.Effect<boolean, Unavailable>;
  /** True when no key has ever been stored (first start). */
  readonly isEmpty: () => Effect.Effect<boolean, Unavailable>;
}

/** Storage of API keys. */
export class ApiKeyStore extends Context.Service<ApiKeyStore, ApiKeyStoreShape>()("@meridian/gateway/ApiKeyStore") {}

/** The PostgreSQL store, over the service's pool. */
export const layerApiKeyStore: Layer.Layer<ApiKeyStore, never, Sql> = Layer.effect(
  ApiKeyStore,
  Effect.map(Effect.context<Sql>(), (context) => {
    const run = <A>(effect: Effect.Effect<A, Unavailable, Sql>) => Effect.provideContext(effect, context);
    return {
      ownerOf: (keyHash) =>
        run(
          query((sql) => sql<Array<{ owner: string }>>`
            select owner from api_keys where key_hash = ${keyHash} and revoked_at is null`),
        ).pipe(Effect.map((rows) => rows[0]?.owner)),
      add: (key) =>
        run(
          query((sql) => sql`
            insert into api_keys (key_hash, key_prefix, owner, label)
            values (${key.keyHash}, ${key.keyPrefix}, ${key.owner}, ${key.label})
            on conflict (key_hash) do nothing
            returning key_hash`),
        ).pipe(Effect.map((rows) => rows.length === 1)),
      isEmpty: () =>
        run(query((sql) => sql`select 1 from api_keys limit 1`)).pipe(Effect.map((rows) => rows.length === 0)),
    };
  }),
);
