/**
 * The universe service as its own process:
 *   HTTP_PORT=8080 GRPC_PORT=8081 DATABASE_URL=postgres://… bun run services/universe/src/main.ts
 * Without DATABASE_URL it keeps its data in an embedded PostgreSQL (PGlite) under MERIDIAN_DATA_DIR.
 */
import { Effect, Layer } from "effect";
import { databaseConfig, readConfig, runMain, serve, serverConfig } from "@meridian/kit";
import { layerUniverse, name, universeService } from "./service.js";

// Both schemas are read before anything starts, so a bad variable fails at once, named.
const layer = Layer.unwrap(
  Effect.map(Effect.all([readConfig(serverConfig), readConfig(databaseConfig)]), ([server, database]) =>
    serve({ name, services: [universeService], config: server }).pipe(Layer.provide(layerUniverse(database))),
  ),
);

runMain(layer, { name });
