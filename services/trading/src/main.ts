/**
 * The trading service as its own process:
 *   HTTP_PORT=8080 GRPC_PORT=8081 DATABASE_URL=postgres://… REDIS_URL=redis://… \
 *   MERIDIAN_UNIVERSE_URL=… MERIDIAN_PORTFOLIO_URL=… MERIDIAN_MARKET_URL=… \
 *   bun run services/trading/src/main.ts
 * Optional: TRADING_SLIPPAGE_BPS (default 5), TRADING_FEE_BPS (default 0). Without DATABASE_URL
 * the data lives in an embedded PostgreSQL (PGlite) under MERIDIAN_DATA_DIR; without REDIS_URL
 * the cache and event bus are in-process.
 */
import { Effect, Layer } from "effect";
import { databaseConfig, layerBacking, readConfig, runMain, serve, serverConfig } from "@meridian/kit";
import { redisConfig } from "@meridian/kit/redis";
import { layerTrading, name, tradingConfig, tradingService } from "./service.js";

// Every schema is read before anything starts, so a bad variable fails at once, named.
const layer = Layer.unwrap(
  Effect.map(
    Effect.all([readConfig(serverConfig), readConfig(databaseConfig), readConfig(redisConfig), readConfig(tradingConfig)]),
    ([server, database, redis, settings]) =>
      serve({ name, services: [tradingService], config: server }).pipe(
        Layer.provide(layerTrading(database, { settings })),
        Layer.provideMerge(layerBacking({ redisUrl: redis.redisUrl, source: name })),
      ),
  ),
);

runMain(layer, { name });
