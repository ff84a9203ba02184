/**
 * The gateway alone in this test process, served on loopback ports like its
 * own process (serve + its resources, its status page routes and CORS), on a
 * fresh PostgreSQL database and the in-process cache, event bus and rate
 * limiter, or Redis at `redisUrl`. Its downstreams are wherever `env` says (by
 * default a closed port: unreachable).
 */
import { Effect, Layer, ManagedRuntime } from "effect";
import { configureLogging, layerBacking, layerHealth, layerLifecycle, serve, Server, type LogSink } from "@meridian/kit";
import type { Rate } from "@meridian/kit/rate-limit";
import { postgresDatabase, type TestDatabase } from "@meridian/kit/testing";
import { DevApiKey, gatewayService, layerGateway, name, statusPageRoutes, type DevKeyInfo } from "../src/service.js";

/** A gateway serving on loopback. */
export interface GatewayAlone {
  readonly url: string;
  readonly devKey: DevKeyInfo;
  readonly database: TestDatabase;
  /** Stops the gateway; `keepDatabase` leaves the database for another start. */
  readonly stop: (keepDatabase?: boolean) => Promise<void>;
}

/** Where nothing listens: the downstreams of a gateway tested alone. */
export const closedPort = "http://127.0.0.1:9";

/** Every log line the gateways of this test process wrote. */
export const logged: Array<Record<string, unknown>> = [];
const sink: LogSink = { write: (line) => void logged.push(JSON.parse(line)), flush: () => {} };

/** Starts a gateway; `database` reuses one from an earlier start. */
export async function startGatewayAlone(
  options: {
    readonly devApiKey?: string;
    readonly env?: Record<string, string>;
    readonly corsOrigins?: ReadonlyArray<string>;
    readonly database?: TestDatabase;
    /** Each key's rate (default: unlimited). */
    readonly rateLimit?: Rate;
    /** Cache, events and rate limits on this Redis, under `redisKeyPrefix`; default in-process. */
    readonly redisUrl?: string;
    readonly redisKeyPrefix?: string;
  } = {},
): Promise<GatewayAlone> {
  // At every start: another test file of this process may have taken the log since.
  configureLogging({ sink });
  const database = options.database ?? (await postgresDatabase());
  const env = {
    MERIDIAN_MARKET_URL: closedPort,
    MERIDIAN_PORTFOLIO_URL: closedPort,
    MERIDIAN_PLANNING_URL: closedPort,
    MERIDIAN_TRADING_URL: closedPort,
    MERIDIAN_PORTFOLIO_RETRIES: "0",
    ...options.env,
  };
  const resources = layerGateway({
    databaseUrl: database.env.DATABASE_URL,
    dataDir: "",
    settings: { devApiKey: options.devApiKey, statusTimeoutMs: 1000, rateLimit: options.rateLimit },
    env,
  }).pipe(
    Layer.provideMerge(
      layerBacking({
        redisUrl: options.redisUrl,
        source: name,
        events: { keyPrefix: options.redisKeyPrefix ?? `gateway-test-${crypto.randomUUID()}:` },
        rateLimits: { keyPrefix: options.redisKeyPrefix },
      }),
    ),
  );
  const server = serve({
    name,
    services: [gatewayService],
    config: { host: "127.0.0.1", httpPort: 0, grpcPort: 0, shutdownGraceMs: 200, logLevel: "info" },
    httpRoutes: statusPageRoutes,
    cors: { allowedOrigins: options.corsOrigins ?? [] },
  });
  const runtime = ManagedRuntime.make(
    server.pipe(Layer.provideMerge(resources), Layer.provideMerge(layerHealth), Layer.provideMerge(layerLifecycle)),
  );
  try {
    const { http } = await runtime.runPromise(Effect.service(Server));
    const devKey = await runtime.runPromise(Effect.service(DevApiKey));
    return {
      url: http.url,
      devKey,
      database,
      stop: async (keepDatabase = false) => {
        await runtime.dispose();
        if (!keepDatabase) await database.drop();
      },
    };
  } catch (e) {
    await runtime.dispose();
    if (options.database === undefined) await database.drop();
    throw e;
  }
}
