/**
 * The market service as its own process:
 *   HTTP_PORT=8080 GRPC_PORT=8081 DATABASE_URL=postgres://… REDIS_URL=redis://… \
 *   MERIDIAN_UNIVERSE_URL=http://universe:8080 bun run services/market/src/main.ts
 * Without DATABASE_URL it keeps its data in an embedded PostgreSQL (PGlite) under MERIDIAN_DATA_DIR;
 * without REDIS_URL its cache and event bus are in-process. MARKET_SEED=off skips the dataset.
 */
import { runService } from "@meridian/kit";
import { market } from "./service.js";

runService(market);
