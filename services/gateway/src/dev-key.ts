/**
 * The dev key: something to call the gateway with on a fresh install. With
 * GATEWAY_DEV_API_KEY set, that key is stored for owner "dev" (tests, scripts
 * and the distributed launcher choose it); otherwise, at the first start (no key
 * stored) a key is made for "dev" and logged once. Later starts cannot show it
 * again: only its hash is kept.
 */
import { Context, Effect, Layer } from "effect";
import { writeLogLine, type Unavailable } from "@meridian/kit";
import { displayPrefix, generateApiKey, hashApiKey } from "./domain/api-keys.js";
import { ApiKeyStore } from "./store.js";

/** The owner the dev key acts for. */
export const devOwner = "dev";

/** The dev key as this start knows it. */
export interface DevKeyInfo {
  /** The key itself when this start created it or was given it; undefined when it was made by an earlier start. */
  readonly key: string | undefined;
  readonly source: "environment" | "created" | "earlier start";
}

/** The dev key of this process, for a launcher to print. */
export class DevApiKey extends Context.Service<DevApiKey, DevKeyInfo>()("@meridian/gateway/DevApiKey") {}

/** Stores the given dev key, or makes one on the first start; logs what it did (the key itself only when made here). */
export function layerDevApiKey(given: string | undefined): Layer.Layer<DevApiKey, Unavailable, ApiKeyStore> {
  return Layer.effect(
    DevApiKey,
    Effect.gen(function* () {
      const store = yield* Effect.service(ApiKeyStore);
      if (given !== undefined) {
        yield* store.add({ keyHash: hashApiKey(given), keyPrefix: displayPrefix(given), owner: devOwner, label: "GATEWAY_DEV_API_KEY" });
        writeLogLine("info", "dev API key from GATEWAY_DEV_API_KEY", { owner: devOwner, key_prefix: displayPrefix(given) });
        return { key: given, source: "environment" as const };
      }
      if (!(yield* store.isEmpty())) {
        writeLogLine("info", "API keys exist; the dev key was printed at the first start (set GATEWAY_DEV_API_KEY to choose one)", {
          owner: devOwner,
        });
        return { key: undefined, source: "earlier start" as const };
      }
      const key = generateApiKey();
      yield* store.add({ keyHash: hashApiKey(key), keyPrefix: displayPrefix(key), owner: devOwner, label: "first start" });
      // The one time the key is shown: only its hash is stored.
      writeLogLine("info", "dev API key created (shown once): send it as `authorization: Bearer <key>`", { owner: devOwner, api_key: key });
      return { key, source: "created" as const };
    }),
  );
}
