/**
 * The portfolio service as its own process:
 *   HTTP_PORT=8080 GRPC_PORT=8081 DATABASE_URL=postgres://… REDIS_URL=redis://… \
 *   MERIDIAN_MARKET_URL=http://… bun run services/portfolio/src/main.ts
 * Without DATABASE_URL it keeps its data in an embedded PostgreSQL (PGlite) under MERIDIAN_DATA_DIR;
 * without REDIS_URL its events are in-process (it then sees no other process's fills).
 */
import { runService } from "@meridian/kit";
import { portfolio } from "./service.js";

runService(portfolio);
