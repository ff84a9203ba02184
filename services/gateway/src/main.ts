/**
 * The gateway as its own process:
 *   HTTP_PORT=8080 GRPC_PORT=8081 DATABASE_URL=postgres://… REDIS_URL=redis://… \
 *   MERIDIAN_MARKET_URL=http://… MERIDIAN_PORTFOLIO_URL=http://… MERIDIAN_PLANNING_URL=http://… \
 *   MERIDIAN_UNIVERSE_URL=… MERIDIAN_SCORING_URL=… MERIDIAN_TRADING_URL=… (for the status report) \
 *   GATEWAY_DEV_API_KEY=mk_… GATEWAY_CORS_ORIGINS=https://app.example bun run services/gateway/src/main.ts
 * The status page is at http://HOST:HTTP_PORT/status/.
 */
import { Effect, Layer } from "effect";
import { databaseConfig, layerBacking, readConfig, runMain, serve, serverConfig } from "@meridian/kit";
import { redisConfig } from "@meridian/kit/redis";
import { gatewayConfig, gatewayCorsConfig, gatewayService, layerGateway, name, statusPageRoutes, version } from "./service.js";

// Every schema is read before anything starts, so a bad variable fails at once, named.
const layer = Layer.unwrap(
  Effect.map(
    Effect.all([readConfig(serverConfig), readConfig(databaseConfig), readConfig(redisConfig), readConfig(gatewayConfig), readConfig(gatewayCorsConfig)]),
    ([server, database, { redisUrl }, settings, cors]) =>
      serve({
        name,
        version,
        services: [gatewayService],
        config: server,
        httpRoutes: statusPageRoutes,
        // GATEWAY_CORS_ORIGINS, or else the kit's CORS_ALLOWED_ORIGINS.
        ...(cors.allowedOrigins.length > 0 ? { cors } : {}),
      }).pipe(
        Layer.provide(
          layerGateway({ ...database, settings }).pipe(Layer.provideMerge(layerBacking({ redisUrl, source: name }))),
        ),
      ),
  ),
);

runMain(layer, { name });
