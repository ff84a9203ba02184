/**
 * The trading service as its own process:
 *   HTTP_PORT=8080 GRPC_PORT=8081 DATABASE_URL=postgres://… REDIS_URL=redis://… \
 *   MERIDIAN_UNIVERSE_URL=… MERIDIAN_PORTFOLIO_URL=… MERIDIAN_MARKET_URL=… \
 *   bun run services/trading/src/main.ts
 * Optional: TRADING_SLIPPAGE_BPS (default 5), TRADING_FEE_BPS (default 0). Without DATABASE_URL
 * the data lives in an embedded PostgreSQL (PGlite) under MERIDIAN_DATA_DIR; without REDIS_URL
 * the cache and event bus are in-process.
 */
import { runService } from "@meridian/kit";
import { trading } from "./service.js";

runService(trading);
