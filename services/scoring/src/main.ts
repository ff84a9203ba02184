/**
 * The scoring service as its own process:
 *   HTTP_PORT=8080 GRPC_PORT=8081 REDIS_URL=redis://… \
 *   MERIDIAN_MARKET_URL=http://… MERIDIAN_UNIVERSE_URL=http://… bun run services/scoring/src/main.ts
 * Without REDIS_URL its score cache and event consumer are in-process (and see no other process's events).
 */
import { Effect, Layer } from "effect";
import { layerBacking, readConfig, runMain, serve, serverConfig } from "@meridian/kit";
import { redisConfig } from "@meridian/kit/redis";
import { layerScoring, name, scoringService } from "./service.js";

// Every schema is read before anything starts, so a bad variable fails at once, named
// (the downstreams' MERIDIAN_<NAME>_* variables are read as their clients are built).
const layer = Layer.unwrap(
  Effect.map(Effect.all([readConfig(serverConfig), readConfig(redisConfig)]), ([server, { redisUrl }]) =>
    serve({ name, services: [scoringService], config: server }).pipe(
      Layer.provide(layerScoring().pipe(Layer.provideMerge(layerBacking({ redisUrl, source: name })))),
    ),
  ),
);

runMain(layer, { name });
