/**
 * The market service as its own process:
 *   HTTP_PORT=8080 GRPC_PORT=8081 DATABASE_URL=postgres://… REDIS_URL=redis://… \
 *   MERIDIAN_UNIVERSE_URL=http://universe:8080 bun run services/market/src/main.ts
 * Without DATABASE_URL it keeps its data in an embedded PostgreSQL (PGlite) under MERIDIAN_DATA_DIR;
 * without REDIS_URL its cache and event bus are in-process. MARKET_SEED=off skips the dataset.
 */
import { Effect, Layer } from "effect";
import { databaseConfig, layerBacking, readConfig, runMain, serve, serverConfig } from "@meridian/kit";
import { redisConfig } from "@meridian/kit/redis";
import { layerMarket, marketConfig, marketService, name } from "./service.js";

// Every schema is read before anything starts, so a bad variable fails at once, named.
const layer = Layer.unwrap(
  Effect.map(
    Effect.all([readConfig(serverConfig), readConfig(databaseConfig), readConfig(redisConfig), readConfig(marketConfig)]),
    ([server, database, redis, market]) =>
      serve({ name, services: [marketService], config: server }).pipe(
        Layer.provide(layerMarket({ ...database, ...market })),
        Layer.provide(layerBacking({ redisUrl: redis.redisUrl, source: name })),
      ),
  ),
);

runMain(layer, { name });
