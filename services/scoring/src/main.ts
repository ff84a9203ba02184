/**
 * The scoring service as its own process:
 *   HTTP_PORT=8080 GRPC_PORT=8081 REDIS_URL=redis://… \
 *   MERIDIAN_MARKET_URL=http://… MERIDIAN_UNIVERSE_URL=http://… bun run services/scoring/src/main.ts
 * Without REDIS_URL its score cache and event consumer are in-process (and see no other process's events).
 * It has no database: DATABASE_URL is not read.
 */
import { runService } from "@meridian/kit";
import { scoring } from "./service.js";

runService(scoring);
