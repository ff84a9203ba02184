/**
 * The gateway as its own process:
 *   HTTP_PORT=8080 GRPC_PORT=8081 DATABASE_URL=postgres://… REDIS_URL=redis://… \
 *   MERIDIAN_MARKET_URL=http://… MERIDIAN_PORTFOLIO_URL=http://… MERIDIAN_PLANNING_URL=http://… \
 *   MERIDIAN_UNIVERSE_URL=… MERIDIAN_SCORING_URL=… MERIDIAN_TRADING_URL=… (for the status report) \
 *   GATEWAY_DEV_API_KEY=mk_… GATEWAY_CORS_ORIGINS=https://app.example bun run services/gateway/src/main.ts
 * The status page is at http://HOST:HTTP_PORT/status/.
 */
import { runService } from "@meridian/kit";
import { gateway } from "./service.js";

runService(gateway);
