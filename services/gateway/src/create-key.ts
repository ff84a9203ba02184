/**
 * Makes an API key for an owner and prints it (the only time it is shown; only its hash is stored):
 *   DATABASE_URL=postgres://… bun run services/gateway/src/create-key.ts <owner> [label]
 * With the embedded database (no DATABASE_URL) run it while the gateway is stopped: PGlite has one session.
 */
import { Effect, Layer } from "effect";
import { databaseConfig, readConfig } from "@meridian/kit";
import { layerMigratedDatabase } from "@meridian/kit/postgres";
import { displayPrefix, generateApiKey, hashApiKey } from "./domain/api-keys.js";
import { migrationsDir, name } from "./service.js";
import { ApiKeyStore, layerApiKeyStore } from "./store.js";

const [owner, label = "create-key"] = process.argv.slice(2);
if (owner === undefined || owner.trim() === "") {
  console.error("usage: bun run services/gateway/src/create-key.ts <owner> [label]");
  process.exit(2);
}

const program = Effect.gen(function* () {
  const store = yield* Effect.service(ApiKeyStore);
  const key = generateApiKey();
  yield* store.add({ keyHash: hashApiKey(key), keyPrefix: displayPrefix(key), owner: owner.trim(), label });
  return key;
});

const database = Layer.unwrap(
  Effect.map(readConfig(databaseConfig), (config) => layerMigratedDatabase({ ...config, schema: name, migrationsDir })),
);

Effect.runPromise(program.pipe(Effect.provide(layerApiKeyStore.pipe(Layer.provide(database)))))
  .then((key) => {
    console.log(key);
    process.exit(0);
  })
  .catch((e: unknown) => {
    console.error(`could not create a key: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
