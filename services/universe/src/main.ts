/**
 * The universe service as its own process:
 *   HTTP_PORT=8080 GRPC_PORT=8081 DATABASE_URL=postgres://… bun run services/universe/src/main.ts
 * Without DATABASE_URL it keeps its data in an embedded PostgreSQL (PGlite) under MERIDIAN_DATA_DIR.
 */
import { runService } from "@meridian/kit";
import { universe } from "./service.js";

runService(universe);
