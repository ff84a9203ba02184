/**
 * A service as the kit runs it: its name, its bound handlers, and the Layer of its resources.
 * `runService` runs one as its own process; the all-in-one launcher runs several in one process
 * from the same definitions, so the two modes cannot drift apart.
 */
import { Config, Effect, Layer } from "effect";
import { layerBacking } from "./backing.js";
import type { Cache } from "./cache/index.js";
import { deferredLocalServices, LocalServices } from "./client/local.js";
import { databaseConfig, readConfig, serverConfig, type DatabaseConfig } from "./config.js";
import type { EventBus } from "./events/index.js";
import type { Health } from "./health.js";
import type { RateLimiter } from "./rate-limit/index.js";
import { runMain } from "./lifecycle.js";
import { redisConfig } from "./redis/index.js";
import type { ServiceBinding } from "./server/implement.js";
import { corsConfig, type CorsOptions } from "./server/cors.js";
import type { HttpRoute } from "./server/fetch-handler.js";
import type { RouteOptions } from "./server/routes.js";
import { serve } from "./server/serve.js";

/** What every service's resources are built from: read once at start from the environment. */
export interface ServiceSettings {
  readonly database: DatabaseConfig;
  /** REDIS_URL, or undefined for the in-process cache and event bus. */
  readonly redisUrl: string | undefined;
  /** REDIS_KEY_PREFIX: before every stream and cache key. */
  readonly redisKeyPrefix: string;
}

/** One service: its handlers and the resources they run on. */
export interface ServiceDefinition<R> {
  /** Its schema, log name, event source and consumer group. */
  readonly name: string;
  readonly binding: Effect.Effect<ServiceBinding, never, R>;
  /** Its resources (database, store, clients, outbox relay, consumers), given a cache, an event bus and a rate limiter. */
  readonly resources: (settings: ServiceSettings) => Layer.Layer<R, unknown, Health | Cache | EventBus | RateLimiter>;
  /** Plain HTTP routes it serves on HTTP_PORT beside its RPCs (e.g. the gateway's status page); none by default. */
  readonly httpRoutes?: ReadonlyArray<HttpRoute>;
  /** Its browser origins allow-list, read at start; default: the server's (CORS_ALLOWED_ORIGINS). */
  readonly cors?: Config.Config<CorsOptions>;
}

/** Declares a service (a typed identity: the definition is checked where it is written). */
export function defineService<R>(definition: ServiceDefinition<R>): ServiceDefinition<R> {
  return definition;
}

/** The settings of this process: DATABASE_URL, MERIDIAN_DATA_DIR and REDIS_URL, validated. */
export const readServiceSettings = Effect.map(
  Effect.all([readConfig(databaseConfig), readConfig(redisConfig)]),
  ([database, redis]): ServiceSettings => ({
    database,
    redisUrl: redis.redisUrl === "" ? undefined : redis.redisUrl,
    redisKeyPrefix: redis.keyPrefix,
  }),
);

/** A service's resources with its own cache and event bus (Redis at REDIS_URL, or in-process), released in reverse order. */
export function layerServiceResources<R>(definition: ServiceDefinition<R>, settings: ServiceSettings): Layer.Layer<R, unknown, Health> {
  return definition
    .resources(settings)
    .pipe(Layer.provide(
      layerBacking({
        redisUrl: settings.redisUrl,
        source: definition.name,
        events: { keyPrefix: settings.redisKeyPrefix },
        cache: { keyPrefix: `${settings.redisKeyPrefix}cache:` },
        rateLimits: { keyPrefix: settings.redisKeyPrefix },
      }),
    ));
}

/**
 * Several services in this process, as the all-in-one launcher runs them. Their resources start
 * one after another in the list's order (a service's downstreams first; shutdown reverses it;
 * embedded databases starting all at once only compete for a small machine), each with its own
 * cache and event bus. Then their bindings are served in-process under `limits`, so a client with
 * no URL configured reaches them with no socket. Provides every resource, and `LocalServices`.
 */
export function layerServicesInProcess(
  definitions: ReadonlyArray<ServiceDefinition<any>>,
  settings: ServiceSettings,
  limits: RouteOptions,
  /** Changes a binding before it is served in-process (tests: a lossy or slow service). */
  wrap: (binding: ServiceBinding) => ServiceBinding = (binding) => binding,
): Layer.Layer<any, unknown, Health> {
  // Clients are built with the resources, before the services they call are bound (no Layer cycle).
  const local = deferredLocalServices();
  const resources = definitions
    .map((definition) => layerServiceResources(definition, settings))
    .reduce((earlier, layer) => Layer.provideMerge(layer, earlier))
    .pipe(Layer.provideMerge(Layer.succeed(LocalServices, local.registry)));
  const bind = Effect.map(Effect.all(definitions.map((d) => d.binding)), (bound) => local.bind(bound.map(wrap), limits));
  return Layer.effectDiscard(bind).pipe(Layer.provideMerge(resources));
}

/**
 * Runs one service as this process: its configuration is read and validated first (a bad
 * variable fails at once, named), then its resources start in order, then its ports open; SIGTERM
 * drains and releases in reverse.
 */
export function runService<R>(definition: ServiceDefinition<R>): void {
  const layer = Layer.unwrap(
    Effect.map(
      Effect.all([readConfig(serverConfig), readServiceSettings, readConfig(definition.cors ?? corsConfig)]),
      ([server, settings, cors]) =>
        serve({
          name: definition.name,
          services: [definition.binding],
          config: server,
          cors,
          httpRoutes: definition.httpRoutes ?? [],
        }).pipe(Layer.provide(layerServiceResources(definition, settings))),
    ),
  );
  runMain(layer, { name: definition.name });
}
