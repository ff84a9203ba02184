/**
 * The portfolio service as its own process:
 *   HTTP_PORT=8080 GRPC_PORT=8081 DATABASE_URL=postgres://… REDIS_URL=redis://… \
 *   MERIDIAN_MARKET_URL=http://… bun run services/portfolio/src/main.ts
 * Without DATABASE_URL it keeps its data in an embedded PostgreSQL (PGlite) under MERIDIAN_DATA_DIR;
 * without REDIS_URL its events are in-process (it then sees no other process's fills).
 */
import { Effect, Layer } from "effect";
import { databaseConfig, layerBacking, readConfig, runMain, serve, serverConfig } from "@meridian/kit";
import { redisConfig } from "@meridian/kit/redis";
import { layerPortfolio, name, portfolioConfig, portfolioService } from "./service.js";

// Every schema is read before anything starts, so a bad variable fails at once, named.
const layer = Layer.unwrap(
  Effect.map(
    Effect.all([readConfig(serverConfig), readConfig(databaseConfig), readConfig(redisConfig), readConfig(portfolioConfig)]),
    ([server, database, { redisUrl }, options]) =>
      serve({ name, services: [portfolioService], config: server }).pipe(
        Layer.provide(layerPortfolio({ database, options }).pipe(Layer.provideMerge(layerBacking({ redisUrl, source: name })))),
      ),
  ),
);

runMain(layer, { name });
