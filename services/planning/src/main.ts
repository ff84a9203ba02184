/**
 * The planning service as its own process:
 *   HTTP_PORT=8080 GRPC_PORT=8081 DATABASE_URL=postgres://… \
 *   MERIDIAN_PORTFOLIO_URL=… MERIDIAN_UNIVERSE_URL=… MERIDIAN_SCORING_URL=… \
 *   MERIDIAN_MARKET_URL=… MERIDIAN_TRADING_URL=… bun run services/planning/src/main.ts
 * Without DATABASE_URL it keeps its plans in an embedded PostgreSQL (PGlite) under MERIDIAN_DATA_DIR.
 */
import { Effect, Layer } from "effect";
import { databaseConfig, readConfig, runMain, serve, serverConfig } from "@meridian/kit";
import { layerPlanning, name, planningService } from "./service.js";

// Both schemas are read before anything starts, so a bad variable fails at once, named.
const layer = Layer.unwrap(
  Effect.map(Effect.all([readConfig(serverConfig), readConfig(databaseConfig)]), ([server, database]) =>
    serve({ name, services: [planningService], config: server }).pipe(Layer.provide(layerPlanning(database))),
  ),
);

runMain(layer, { name });
