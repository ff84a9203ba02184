/**
 * Who is calling: the API key of `authorization: Bearer <key>`, looked up by
 * its SHA-256. A key acts for its owner. Keys that resolved are remembered for
 * a short while so a busy caller does not cost a query per call. Each key's
 * calls are rate limited (the kit's RateLimiter, keyed by the key's hash).
 */
import { Context, Effect, Layer } from "effect";
import { RequestContext, Unauthenticated, type RateLimited, type Unavailable } from "@meridian/kit";
import { LruMap } from "@meridian/kit/cache";
import { RateLimiter, type Rate, type RateLimit } from "@meridian/kit/rate-limit";
import { bearerKeyOf, displayPrefix, hashApiKey, isWellFormedKey } from "./domain/api-keys.js";
import { ApiKeyStore } from "./store.js";

/** The caller of a request, as its key says. */
export interface Principal {
  readonly owner: string;
  /** The key's first characters, for logs. */
  readonly keyPrefix: string;
}

/** Resolves a request's key to its owner. */
export interface AuthenticatorShape {
  /**
   * The owner of the request's key; Unauthenticated when there is none, it is malformed, unknown or
   * revoked; RateLimited when the key went over its rate.
   */
  readonly authenticate: (requestHeader: Headers) => Effect.Effect<Principal, Unauthenticated | RateLimited | Unavailable>;
}

/** The gateway's authenticator. */
export class Authenticator extends Context.Service<Authenticator, AuthenticatorShape>()("@meridian/gateway/Authenticator") {}

/** How long a resolved key is trusted without asking the store again (a revoked key stops working within this). */
export const keyCacheTtlMs = 30_000;
const keyCacheMaxEntries = 10_000;

/** The authenticator over the key store, limiting each key to `rate` (none: unlimited). */
export const layerAuthenticator = (rate: Rate | undefined): Layer.Layer<Authenticator, never, ApiKeyStore | RateLimiter> =>
  Layer.effect(
    Authenticator,
    Effect.gen(function* () {
      const store = yield* Effect.service(ApiKeyStore);
      const limiter = yield* Effect.service(RateLimiter);
      const limit: RateLimit | undefined = rate === undefined ? undefined : { name: "gateway_api_key", ...rate };
      const resolved = new LruMap<string, { readonly owner: string; readonly until: number }>(keyCacheMaxEntries);
      const resolve = (requestHeader: Headers): Effect.Effect<Principal & { readonly keyHash: string }, Unauthenticated | Unavailable> => {
        const key = bearerKeyOf(requestHeader.get("authorization"));
        if (key === undefined) {
          return Effect.fail(new Unauthenticated({}, "missing API key: send the header `authorization: Bearer <key>`"));
        }
        if (!isWellFormedKey(key)) return Effect.fail(new Unauthenticated({}, "invalid API key"));
        const keyHash = hashApiKey(key);
        const keyPrefix = displayPrefix(key);
        const cached = resolved.get(keyHash);
        if (cached !== undefined && cached.until > Date.now()) return Effect.succeed({ owner: cached.owner, keyPrefix, keyHash });
        return Effect.flatMap(store.ownerOf(keyHash), (owner) => {
          if (owner === undefined) return Effect.fail(new Unauthenticated({}, "invalid API key"));
          resolved.set(keyHash, { owner, until: Date.now() + keyCacheTtlMs });
          return Effect.succeed({ owner, keyPrefix, keyHash });
        });
      };
      return {
        // Only a known key spends an allowance: unknown ones are refused before, and cannot fill the limiter.
        authenticate: (requestHeader) =>
          Effect.flatMap(resolve(requestHeader), ({ owner, keyPrefix, keyHash }) =>
            limit === undefined ? Effect.succeed({ owner, keyPrefix }) : Effect.as(limiter.take(limit, keyHash), { owner, keyPrefix }),
          ),
      };
    }),
  );

/** The caller of the request being served. */
export const caller: Effect.Effect<Principal, Unauthenticated | RateLimited | Unavailable, Authenticator | RequestContext> = Effect.gen(function* () {
  const request = yield* Effect.service(RequestContext);
  const authenticator = yield* Effect.service(Authenticator);
  return yield* authenticator.authenticate(request.requestHeader);
});
