/**
 * `serve`: one call that serves bound services on two ports. HTTP_PORT:
 * Connect (JSON, binary, GET) and gRPC-Web over HTTP/1.1, plus /healthz and
 * /readyz. GRPC_PORT: gRPC (and the others) over HTTP/2 cleartext. As a Layer:
 * built after the resources the handlers need, released (drained) before them.
 */
import { Context, Effect, Layer } from "effect";
import { readConfig, serverConfig, type ConfigInvalid, type ServerConfig } from "../config.js";
import { Health } from "../health.js";
import { Lifecycle } from "../lifecycle.js";
import { configureLogging, writeLogLine } from "../log.js";
import { layerProcessMetrics } from "../telemetry/process.js";
import { corsConfig, withCors, type CorsOptions } from "./cors.js";
import { createFetchHandlers, type HttpRoute } from "./fetch-handler.js";
import { makeAdmission } from "./admission.js";
import { grpcHealth, GrpcHealthService } from "./grpc-health.js";
import { listenGrpc } from "./grpc-listener.js";
import { listenHttp, type ListenFailed, type Listener } from "./http-listener.js";
import type { ServiceBinding } from "./implement.js";
import { reflectionServices, serverReflection } from "./reflection.js";
import { createRoutes } from "./routes.js";
import { configureAccessLog } from "./rpc.js";

/** Where a running server listens. */
export interface ServerAddresses {
  readonly http: Listener;
  readonly grpc: Listener;
}

/** The addresses of the server this Layer graph runs. */
export class Server extends Context.Service<Server, ServerAddresses>()("@meridian/kit/Server") {}

/** What to serve, and how. */
export interface ServeOptions<R> {
  /** Names the process in logs and health reports, e.g. "universe". */
  readonly name: string;
  readonly version?: string;
  readonly services: ReadonlyArray<Effect.Effect<ServiceBinding, never, R>>;
  /** Defaults to the environment (HTTP_PORT, GRPC_PORT, …), validated. */
  readonly config?: Partial<ServerConfig>;
  /** Browser origins allowed on HTTP_PORT; defaults to CORS_ALLOWED_ORIGINS (unset: none). */
  readonly cors?: CorsOptions;
  /** Plain HTTP routes on HTTP_PORT beside the RPCs (e.g. a status page); none by default. */
  readonly httpRoutes?: ReadonlyArray<HttpRoute>;
}

/**
 * Serves the services on HTTP_PORT and GRPC_PORT; status `running` once both
 * listen; on release, readiness turns false and streams end first, then both listeners drain.
 */
export function serve<R>(
  options: ServeOptions<R>,
): Layer.Layer<Server, ListenFailed | ConfigInvalid, R | Lifecycle | Health> {
  return Layer.effect(
    Server,
    Effect.gen(function* () {
      const fromEnv = yield* readConfig(serverConfig);
      const config: ServerConfig = { ...fromEnv, ...options.config };
      configureLogging({ level: config.logLevel, service: options.name });
      configureAccessLog({ peer: config.logPeer });
      const lifecycle = yield* Effect.service(Lifecycle);
      const health = yield* Effect.service(Health);
      const version = options.version ?? "0.1.0";
      // Every server also answers grpc.health.v1 and server reflection, over what it serves.
      const own = yield* Effect.all(options.services);
      const served = [...own.map((b) => b.service), GrpcHealthService, ...reflectionServices];
      const bindings = [
        ...own,
        yield* grpcHealth({ service: options.name, version, services: served.map((s) => s.desc.typeName) }),
        ...serverReflection(served),
      ];
      const routes = createRoutes(bindings, {
        maxMessageBytes: config.maxMessageBytes,
        deadlineCapMs: config.deadlineCapMs,
        shutdown: lifecycle.shutdown,
        logBodies: new Set(config.logBodies),
        ...(config.maxCallsInFlight === undefined ? {} : { admission: makeAdmission(config.maxCallsInFlight) }),
      });
      const handlers = createFetchHandlers({ routes, health, service: options.name, version, httpRoutes: options.httpRoutes ?? [] });
      const cors = options.cors ?? (yield* readConfig(corsConfig));
      const http = yield* listenHttp({
        host: config.host,
        port: config.httpPort,
        graceMs: config.shutdownGraceMs,
        fetch: withCors(handlers.fetch, cors),
        // Unary paths routed by Bun itself; with CORS on, every request goes through its wrapper instead.
        byPath: cors.allowedOrigins.length === 0 ? handlers.byPath : undefined,
      });
      const grpc = yield* listenGrpc({
        host: config.host,
        port: config.grpcPort,
        graceMs: config.shutdownGraceMs,
        routes,
      });
      // Released first (finalizers run in reverse): stop being ready before the listeners drain.
      yield* Effect.addFinalizer(() => Effect.sync(() => lifecycle.beginShutdown()));
      lifecycle.setStatus("running");
      writeLogLine("info", "listening", {
        http: http.url,
        grpc: grpc.url,
        services: bindings.map((b) => b.service.desc.typeName),
      });
      return { http, grpc };
    }),
  ).pipe(Layer.merge(layerProcessMetrics));
}
