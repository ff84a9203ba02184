/**
 * The service locator: a service gets a client of another as a Layer. With
 * `MERIDIAN_<NAME>_URL` set the client is remote (Connect over HTTP/1.1, gRPC
 * over HTTP/2 or gRPC-Web, by `MERIDIAN_<NAME>_PROTOCOL`), balanced over the
 * listed endpoints; without it, the service must be served in this process
 * ({@link LocalServices}) and is called in-process. Either way the same
 * policies, telemetry and propagation apply, and the code does not change.
 */
import { Context, Effect, Layer, Option, Stream, type Scope } from "effect";
import type { DescMethod } from "@bufbuild/protobuf";
import {
  createEffectClient,
  createFetchTransport,
  createResilientTransport,
  resolvePolicy,
  type EffectCallOptions,
  type EffectClient,
  type Endpoint,
  type MeridianService,
  type PolicyOptions,
  type ResilientTransport,
} from "@meridian/sdk";
import { createNodeTransport } from "@meridian/sdk/node";
import { ConfigInvalid, readConfig } from "../config.js";
import { Health } from "../health.js";
import { writeLogLine } from "../log.js";
import { RequestContext, type RequestInfo } from "../server/call.js";
import { downstreamConfig, envPrefix, type DownstreamConfig } from "./config.js";
import { LocalServices, type LocalRegistry } from "./local.js";
import { outgoing, type TraceHeaders } from "./propagation.js";
import { withClientSpan } from "./spans.js";
import { rememberTransport } from "./state.js";
import { publishState, telemetryHooks } from "./telemetry.js";

/** The context key of the client of a service: one per service, named after its proto service, so any module can ask for it. */
export function ServiceClient<M extends MeridianService>(service: M): Context.Service<EffectClient<M>, EffectClient<M>> {
  return Context.Service<EffectClient<M>>(`@meridian/kit/client/${service.desc.typeName}`);
}

/** How to build a client. */
export interface ClientOptions {
  /** The downstream's name in variables, logs and metrics (default: the service's domain, e.g. "universe"). */
  readonly name?: string;
  /**
   * Policies in code. Service-wide settings are defaults the environment
   * (MERIDIAN_<NAME>_…) overrides; per-method settings (`methods`) override both.
   */
  readonly policy?: PolicyOptions;
  /** Variables to read instead of the process's (tests). */
  readonly env?: Record<string, string | undefined>;
}

/** A Layer providing the client of `service`, remote or in-process as configured; fails at start with ConfigInvalid naming the variable. */
export function layerClient<M extends MeridianService>(
  service: M,
  options: ClientOptions = {},
): Layer.Layer<EffectClient<M>, ConfigInvalid> {
  return Layer.effect(ServiceClient(service), makeClient(service, options));
}

/**
 * Makes the client of `service`: every call carries the current request's
 * correlation id, trace context and remaining deadline, and goes through the
 * deadline, retry, breaker, bulkhead and balancing policies.
 */
export function makeClient<M extends MeridianService>(
  service: M,
  options: ClientOptions = {},
): Effect.Effect<EffectClient<M>, ConfigInvalid, Scope.Scope> {
  return Effect.gen(function* () {
    const name = options.name ?? service.domain;
    const config = yield* readConfig(downstreamConfig(name), options.env);
    const local = yield* Effect.serviceOption(LocalServices);
    const { mode, endpoints } = yield* endpointsOf(service, config, Option.getOrUndefined(local));
    const { methods, ...serviceWide } = options.policy ?? {};
    const policy = resolvePolicy(
      methods === undefined ? {} : { methods },
      resolvePolicy(config.policy, resolvePolicy(serviceWide)),
    );
    const transport = createResilientTransport({
      downstream: name,
      endpoints,
      policy,
      hooks: telemetryHooks(name, mode),
    });
    yield* Effect.acquireRelease(
      Effect.sync(() => publishState(transport)),
      (stop) => Effect.sync(stop),
    );
    yield* reportReadiness(transport);
    writeLogLine("info", "client ready", {
      downstream: name,
      mode,
      protocol: mode === "local" ? "in-process" : config.protocol,
      endpoints: endpoints.map((e) => e.url),
    });
    const client = propagating(createEffectClient(service, { transport }), service, transport);
    rememberTransport(client, transport);
    return client;
  });
}

function endpointsOf(
  service: MeridianService,
  config: DownstreamConfig,
  local: LocalRegistry | undefined,
): Effect.Effect<{ mode: "remote" | "local"; endpoints: ReadonlyArray<Endpoint> }, ConfigInvalid> {
  if (config.endpoints.length > 0) {
    return Effect.succeed({
      mode: "remote",
      endpoints: config.endpoints.map((url) => ({ url, transport: remoteTransport(url, config) })),
    });
  }
  const transport = local?.transportOf(service.desc.typeName);
  if (transport !== undefined) return Effect.succeed({ mode: "local", endpoints: [{ url: "in-process", transport }] });
  return Effect.fail(
    new ConfigInvalid({
      message: `invalid configuration: ${envPrefix(config.name)}URL is not set and ${service.desc.typeName} is not served in this process; set it to the service's URL(s), comma-separated`,
    }),
  );
}

/** Connect: binary over fetch (HTTP/1.1, Bun's fastest client); gRPC over HTTP/2 and gRPC-Web through connect-node. */
function remoteTransport(baseUrl: string, config: DownstreamConfig) {
  return config.protocol === "connect"
    ? createFetchTransport({ baseUrl, useBinaryFormat: true })
    : createNodeTransport({ baseUrl, protocol: config.protocol, binary: true });
}

/** Readiness shows the downstream degraded while every endpoint's breaker is open. */
function reportReadiness(transport: ResilientTransport): Effect.Effect<void, never, Scope.Scope> {
  return Effect.gen(function* () {
    const health = yield* Effect.serviceOption(Health);
    if (Option.isNone(health)) return;
    yield* Effect.acquireRelease(
      Effect.sync(() =>
        health.value.register({
          name: `downstream:${transport.downstream}`,
          required: false,
          check: async () => {
            const open = transport.state().endpoints.filter((e) => e.breaker === "open");
            if (open.length === transport.state().endpoints.length) {
              throw new Error(`circuit open for ${open.map((e) => e.url).join(", ")}`);
            }
          },
        }),
      ),
      (unregister) => Effect.sync(unregister),
    );
  });
}

type AnyMethod = (request: unknown, options?: EffectCallOptions) => unknown;

/**
 * Wraps each method so the call carries the served request's correlation id,
 * trace context (a client span's, when tracing is on) and remaining deadline.
 */
function propagating<M extends MeridianService>(
  client: EffectClient<M>,
  service: M,
  transport: ResilientTransport,
): EffectClient<M> {
  const methods = client as unknown as Record<string, AnyMethod>;
  const wrapped: Record<string, AnyMethod> = {};
  for (const method of service.desc.methods as ReadonlyArray<DescMethod>) {
    const call = methods[method.localName];
    if (call === undefined) continue;
    if (method.methodKind === "unary") {
      const defaultTimeoutMs = transport.methodPolicy(method.localName).timeoutMs;
      // One step reads the served request from the fiber: the wrapper adds no Effect of its own to the call.
      wrapped[method.localName] = (request, options) =>
        Effect.withFiber((fiber) => {
          const served = Context.getOrUndefined(fiber.context, RequestContext);
          return withClientSpan(method, transport.downstream, served, options?.headers, (span) =>
            call(request, withOutgoing(options, served, options?.timeoutMs ?? defaultTimeoutMs, span)) as Effect.Effect<unknown>,
          );
        });
    } else {
      // Streams have no default deadline; one asked for, or the served request's, is passed on.
      wrapped[method.localName] = (request, options) =>
        Stream.unwrap(
          Effect.map(Effect.serviceOption(RequestContext), (current) =>
            call(
              request,
              withOutgoing(options, Option.getOrUndefined(current), options?.timeoutMs ?? Number.POSITIVE_INFINITY),
            ) as Stream.Stream<unknown>,
          ),
        );
    }
  }
  return wrapped as unknown as EffectClient<M>;
}

function withOutgoing(
  options: EffectCallOptions | undefined,
  served: RequestInfo | undefined,
  timeoutMs: number,
  span?: TraceHeaders,
): EffectCallOptions {
  const out = outgoing(served, options?.headers, timeoutMs, span);
  // Built field by field: spreading an options object a call usually does not have costs more than the call's policies.
  const call: { -readonly [K in keyof EffectCallOptions]: EffectCallOptions[K] } =
    options === undefined ? { headers: out.headers } : { ...options, headers: out.headers };
  if (Number.isFinite(out.timeoutMs)) call.timeoutMs = out.timeoutMs;
  return call;
}
