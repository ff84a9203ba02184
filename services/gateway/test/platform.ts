/**
 * The whole platform in this test process, composed as the all-in-one
 * launcher (platform/main.ts) composes it: every service's definition run by
 * the kit's `layerServicesInProcess` (clients reaching the others in-process), one
 * server for all of them with the gateway's status page routes. Data on a
 * fresh PostgreSQL database (a schema per service); cache and events in-process.
 * The other services' code is imported here only to run them, never by the gateway.
 */
import { Effect, Layer, ManagedRuntime } from "effect";
import {
  configureLogging,
  layerHealth,
  layerLifecycle,
  layerServicesInProcess,
  serve,
  Server,
  type LogSink,
  type ServiceDefinition,
  type ServiceSettings,
} from "@meridian/kit";
import { postgresDatabase, type TestDatabase } from "@meridian/kit/testing";
import { market } from "../../market/src/service.js";
import { planning } from "../../planning/src/service.js";
import { portfolio } from "../../portfolio/src/service.js";
import { scoring } from "../../scoring/src/service.js";
import { trading } from "../../trading/src/service.js";
import { universe } from "../../universe/src/service.js";
import { gateway } from "../src/service.js";

/** Every service, downstreams first (the launcher's order). */
export const definitions: ReadonlyArray<ServiceDefinition<any>> = [universe, market, scoring, portfolio, trading, planning, gateway];

/** The running platform. */
export interface Platform {
  /** The one HTTP/1.1 base URL of every service (and the status page at /status/). */
  readonly url: string;
  readonly database: TestDatabase;
  /** Log lines of warn and above, for failure messages. */
  readonly problems: () => ReadonlyArray<Record<string, unknown>>;
  readonly stop: () => Promise<void>;
}

const problems: Array<Record<string, unknown>> = [];
const sink: LogSink = {
  write: (line) => {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    if (parsed.level !== "info" && parsed.level !== "debug") problems.push(parsed);
  },
  flush: () => {},
};

/** Starts every service in this process; `devApiKey` becomes the dev key (GATEWAY_DEV_API_KEY). */
export async function startPlatform(options: { readonly devApiKey: string }): Promise<Platform> {
  configureLogging({ sink });
  const database = await postgresDatabase();
  const settings: ServiceSettings = {
    database: { databaseUrl: database.env.DATABASE_URL, dataDir: "" },
    redisUrl: undefined,
    redisKeyPrefix: `gateway-platform-${crypto.randomUUID()}:`,
  };
  // The gateway's definition reads its settings from the environment, like every service's.
  const previousKey = process.env.GATEWAY_DEV_API_KEY;
  process.env.GATEWAY_DEV_API_KEY = options.devApiKey;
  const limits = { maxMessageBytes: 4 * 1024 * 1024, deadlineCapMs: 30_000 };
  const server = serve({
    name: "meridian",
    services: definitions.map((d) => d.binding),
    config: { host: "127.0.0.1", httpPort: 0, grpcPort: 0, shutdownGraceMs: 500, logLevel: "info", ...limits },
    httpRoutes: definitions.flatMap((d) => d.httpRoutes ?? []),
  });
  const runtime = ManagedRuntime.make(
    server.pipe(
      Layer.provideMerge(layerServicesInProcess(definitions, settings, limits)),
      Layer.provideMerge(layerHealth),
      Layer.provideMerge(layerLifecycle),
    ) as Layer.Layer<Server, unknown>,
  );
  try {
    const { http } = await runtime.runPromise(Effect.service(Server));
    return {
      url: http.url,
      database,
      problems: () => problems,
      stop: async () => {
        await runtime.dispose();
        await database.drop();
      },
    };
  } catch (e) {
    await runtime.dispose().catch(() => {});
    await database.drop();
    throw e;
  } finally {
    if (previousKey === undefined) delete process.env.GATEWAY_DEV_API_KEY;
    else process.env.GATEWAY_DEV_API_KEY = previousKey;
  }
}

/** Stores a new API key for `owner` (as an operator would) and returns it. */
export async function addApiKey(database: TestDatabase, owner: string): Promise<string> {
  const { default: postgres } = await import("postgres");
  const { displayPrefix, generateApiKey, hashApiKey } = await import("../src/domain/api-keys.js");
  const key = generateApiKey();
  const sql = postgres(database.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
  try {
    await sql`insert into gateway.api_keys (key_hash, key_prefix, owner, label)
              values (${hashApiKey(key)}, ${displayPrefix(key)}, ${owner}, 'test')`;
  } finally {
    await sql.end();
  }
  return key;
}
