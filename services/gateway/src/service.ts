/**
 * The gateway as Layers, for its own process (main.ts) and for the all-in-one
 * launcher: its database (schema "gateway": API keys, hashed), the
 * authenticator, the dev key, the clients of market, portfolio, planning and trading,
 * the caller's accounts and the platform status; plus the status page's HTTP
 * routes, which the server that serves the gateway must be given. It requires
 * (does not build) Health and EventBus; LocalServices is used when present.
 */
import { fileURLToPath } from "node:url";
import { Effect, Layer } from "effect";
import { defineService, readConfig, type ConfigInvalid, type Health, type HttpRoute, type Unavailable } from "@meridian/kit";
import { EventBus } from "@meridian/kit/events";
import { RateLimiter } from "@meridian/kit/rate-limit";
import { layerClient } from "@meridian/kit/client";
import { layerMigratedDatabase, layerSqlHealth, type PostgresError, type Sql } from "@meridian/kit/postgres";
import type { EffectClient, PolicyOptions } from "@meridian/sdk";
import { Market } from "@meridian/sdk/market";
import { Planning } from "@meridian/sdk/planning";
import { Portfolio } from "@meridian/sdk/portfolio";
import { Trading } from "@meridian/sdk/trading";
import { Accounts, layerAccounts } from "./accounts.js";
import { Authenticator, layerAuthenticator } from "./auth.js";
import { gatewayConfig, gatewayCorsConfig, type GatewaySettings } from "./config.js";
import { DevApiKey, layerDevApiKey } from "./dev-key.js";
import { gatewayHandlers } from "./handlers.js";
import { layerSystemStatus, SystemStatus } from "./status.js";
import { statusPageRoutes as pageRoutes } from "./status-page/routes.js";
import { ApiKeyStore, layerApiKeyStore } from "./store.js";

export { gatewayConfig, gatewayCorsConfig, type GatewaySettings } from "./config.js";
export { DevApiKey, devOwner, type DevKeyInfo } from "./dev-key.js";
export { generateApiKey } from "./domain/api-keys.js";

/** This service's name: its schema, its log name, its data folder. */
export const name = "gateway";

/** The version GetSystemStatus reports for this process. */
export const version = "0.1.0";

/** The folder of this service's SQL migrations. */
export const migrationsDir = fileURLToPath(new URL("../migrations", import.meta.url));

/** The bound service. */
export const gatewayService = gatewayHandlers;

/** The status page: `/` redirects to `/status/`, which serves the page and its script (built on first request). */
export const statusPageRoutes: ReadonlyArray<HttpRoute> = pageRoutes;

/**
 * A trading cycle proposes and executes a plan (several orders): a longer deadline than the
 * default; ExecutePlan is idempotent, so it is retried on unavailable. MERIDIAN_PLANNING_* override.
 */
export const planningPolicy: PolicyOptions = { timeoutMs: 20_000 };

/** Everything the gateway runs on. */
export type GatewayResources =
  | Authenticator
  | Accounts
  | SystemStatus
  | DevApiKey
  | ApiKeyStore
  | Sql
  | EffectClient<typeof Market>
  | EffectClient<typeof Portfolio>
  | EffectClient<typeof Planning>
  | EffectClient<typeof Trading>;

/** Everything the service runs on, for main.ts and the launcher. */
export function layerGateway(options: {
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly settings: GatewaySettings;
  /** Variables to read the downstreams' MERIDIAN_<SVC>_… from instead of the process's (tests). */
  readonly env?: Record<string, string | undefined>;
}): Layer.Layer<GatewayResources, PostgresError | ConfigInvalid | Unavailable, Health | RateLimiter> {
  const env = options.env === undefined ? {} : { env: options.env };
  const database = layerMigratedDatabase({ databaseUrl: options.databaseUrl, dataDir: options.dataDir, schema: name, migrationsDir });
  const store = layerApiKeyStore.pipe(Layer.provideMerge(layerSqlHealth), Layer.provideMerge(database));
  const keys = Layer.mergeAll(layerAuthenticator(options.settings.rateLimit), layerDevApiKey(options.settings.devApiKey)).pipe(Layer.provideMerge(store));
  const clients = Layer.mergeAll(
    layerClient(Market, env),
    layerClient(Portfolio, env),
    layerClient(Planning, { policy: planningPolicy, ...env }),
    layerClient(Trading, env),
  );
  const edge = Layer.mergeAll(
    layerAccounts,
    layerSystemStatus({ name, version, timeoutMs: options.settings.statusTimeoutMs, ...env }),
  ).pipe(Layer.provideMerge(clients));
  return Layer.merge(keys, edge);
}

/**
 * The gateway as the kit runs it, alone (main.ts) or with the others (the launcher): its settings
 * (GATEWAY_*) are read as its resources start; the server must also serve `httpRoutes` (the status
 * page) and use `cors` (GATEWAY_CORS_ORIGINS, else CORS_ALLOWED_ORIGINS).
 */
export const gateway = defineService({
  name,
  binding: gatewayService,
  resources: ({ database }) =>
    Layer.unwrap(Effect.map(readConfig(gatewayConfig), (settings) => layerGateway({ ...database, settings }))).pipe(
      // The handlers follow events on the bus the process provides.
      Layer.merge(Layer.effect(EventBus, Effect.service(EventBus))),
    ),
  httpRoutes: statusPageRoutes,
  cors: gatewayCorsConfig,
});
