/**
 * The planning service as its own process:
 *   HTTP_PORT=8080 GRPC_PORT=8081 DATABASE_URL=postgres://… \
 *   MERIDIAN_PORTFOLIO_URL=… MERIDIAN_UNIVERSE_URL=… MERIDIAN_SCORING_URL=… \
 *   MERIDIAN_MARKET_URL=… MERIDIAN_TRADING_URL=… bun run services/planning/src/main.ts
 * Without DATABASE_URL it keeps its plans in an embedded PostgreSQL (PGlite) under MERIDIAN_DATA_DIR.
 */
import { runService } from "@meridian/kit";
import { planning } from "./service.js";

runService(planning);
