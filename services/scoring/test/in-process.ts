/**
 * Scoring in-process for tests: its handlers behind the in-process transport,
 * over the real universe service (in-process, on a fresh PostgreSQL database)
 * and a market that is either served in this process (its binding and Layer
 * given, optionally wrapped, e.g. behind injected faults) or remote at a URL. Services reach
 * each other in-process as in the all-in-one launcher. Cache and event bus are
 * the in-process ones (streams prefixed per run) unless Layers are given.
 */
import { createServer } from "node:net";
import { Effect, Layer, ManagedRuntime } from "effect";
import { layerBacking, layerHealth, layerLifecycle, metrics, type Health, type ServiceBinding } from "@meridian/kit";
import { layerMemoryCache, type Cache } from "@meridian/kit/cache";
import { deferredLocalServices, LocalServices } from "@meridian/kit/client";
import { layerMemoryEventBus, type EventBus } from "@meridian/kit/events";
import { dropRedisKeys, postgresDatabase, type TestDatabase } from "@meridian/kit/testing";
import { createEffectClient, type EffectClient, type MeridianService } from "@meridian/sdk";
import { Scoring } from "@meridian/sdk/scoring";
import { layerStore, layerUniverseDatabase, universeService } from "@meridian/universe";
import { layerScoring, scoringService } from "../src/service.js";

/** A scoring service running in this process, and its client. */
export interface ScoringUnderTest {
  readonly client: EffectClient<typeof Scoring>;
  /** A client of any service served in this process (market, universe), policies off. */
  readonly clientOf: <M extends MeridianService>(service: M) => EffectClient<M>;
  /** Runs effects with the resources of every service in the process (cache, bus, clients). */
  readonly runtime: ManagedRuntime.ManagedRuntime<Cache | EventBus, unknown>;
  /** The database universe (and market, when served here) live in. */
  readonly database: TestDatabase;
  readonly dispose: () => Promise<void>;
}

/** A service to serve in this process beside universe and scoring. */
export interface LocalService {
  readonly binding: Effect.Effect<ServiceBinding, never, any>;
  /** What its binding needs; may require Health, Cache, EventBus and LocalServices. */
  readonly layer: (database: { databaseUrl: string; dataDir: string }) => Layer.Layer<any, any, any>;
  /** Wraps its binding, e.g. to inject faults (`faults.binding`) or count calls in flight. */
  readonly wrap?: (binding: ServiceBinding) => ServiceBinding;
}

/** How to build it. */
export interface ScoringOptions {
  /** Variables for the downstream clients, e.g. MERIDIAN_MARKET_URL; unset ones are in-process. */
  readonly env?: Record<string, string | undefined>;
  /** The market, served in this process. */
  readonly market?: LocalService;
  /** Cache and event bus; default in-process. */
  readonly backing?: Layer.Layer<Cache | EventBus, unknown, Health>;
}

const limits = { maxMessageBytes: 4 * 1024 * 1024, deadlineCapMs: 30_000 };

/** Starts universe, scoring and, when given, market in this process. */
export async function startScoring(options: ScoringOptions = {}): Promise<ScoringUnderTest> {
  const database = await postgresDatabase();
  const settings = { databaseUrl: database.env.DATABASE_URL!, dataDir: "" };
  const universe = layerStore.pipe(Layer.provideMerge(layerUniverseDatabase(settings)));
  const backing =
    options.backing ??
    Layer.merge(layerMemoryCache(), layerMemoryEventBus({ source: "test", keyPrefix: `scoring-test-${crypto.randomUUID()}:` }));
  const local = deferredLocalServices();
  const services = Layer.mergeAll(
    universe,
    layerScoring({ env: options.env ?? {} }),
    ...(options.market === undefined ? [] : [options.market.layer(settings)]),
  );
  const layer = services.pipe(
    Layer.provideMerge(backing),
    Layer.provideMerge(layerHealth),
    Layer.provide(layerLifecycle),
    Layer.provide(Layer.succeed(LocalServices, local.registry)),
  );
  const runtime = ManagedRuntime.make(layer as Layer.Layer<Cache | EventBus | Health, unknown>);
  try {
    const bindings = await runtime.runPromise(
      Effect.all([universeService, scoringService, ...(options.market === undefined ? [] : [options.market.binding])] as Array<
        Effect.Effect<ServiceBinding, never, any>
      >),
    );
    const wrap = options.market?.wrap ?? ((b: ServiceBinding) => b);
    local.bind(
      bindings.map((b, i) => (i === 2 ? wrap(b) : b)),
      limits,
    );
  } catch (e) {
    await runtime.dispose();
    await database.drop();
    throw e;
  }
  const transport = local.registry.transportOf(Scoring.desc.typeName)!;
  return {
    // No policies on the test's own calls: each error is exactly what scoring answered.
    client: createEffectClient(Scoring, { transport, policy: false }),
    clientOf: (service) => createEffectClient(service, { transport: local.registry.transportOf(service.desc.typeName)!, policy: false }),
    runtime,
    database,
    dispose: async () => {
      await runtime.dispose();
      await database.drop();
    },
  };
}

/** The kit cache and event bus on the real Redis, under a key prefix of this run's own; `cleanup` deletes its keys. */
export function redisBacking(redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"): {
  readonly layer: Layer.Layer<Cache | EventBus, unknown, Health>;
  readonly prefix: string;
  readonly cleanup: () => Promise<void>;
} {
  const prefix = `test:scoring:${crypto.randomUUID()}:`;
  return {
    prefix,
    layer: layerBacking({ redisUrl, source: "test", events: { keyPrefix: prefix }, cache: { keyPrefix: `${prefix}cache:` } }),
    cleanup: () => dropRedisKeys(redisUrl, prefix),
  };
}

/** A call counter of the kit client metrics: calls scoring made to market's `method` that ended with `code`. */
export function marketCalls(method: string, code = "ok"): number {
  return metrics
    .counter("rpc_client_requests_total", "", ["downstream", "method", "code"])
    .get({ downstream: "market", method: `meridian.market.v1.MarketService/${method}`, code });
}

/** Score cache lookups by result, from the kit cache metrics. */
export function scoreCacheLookups(result: "hit" | "miss" | "error"): number {
  return metrics.counter("cache_requests_total", "", ["namespace", "result"]).get({ namespace: "scoring", result });
}

/** A local URL nothing listens on: calls to it are refused at once. */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** The failure of an effect that must fail. */
export const failureOf = <A, E>(effect: Effect.Effect<A, E>): Promise<E> => Effect.runPromise(Effect.flip(effect));

/** The fields named by an InvalidArgument (or an empty list for any other error). */
export function violatedFields(error: { readonly _tag: string }): string[] {
  return error._tag === "InvalidArgument"
    ? (error as unknown as { fieldViolations: Array<{ field: string }> }).fieldViolations.map((v) => v.field)
    : [];
}

/**
 * Counts the calls of one method in flight on a binding, and the most at once:
 * how a test sees the concurrency a caller allows itself.
 */
export class InFlightProbe {
  current = 0;
  max = 0;
  constructor(private readonly method: string) {}

  /** The binding with the probe around `method`, on every path the server takes. */
  binding(binding: ServiceBinding): ServiceBinding {
    const track = async <A>(run: () => Promise<A>): Promise<A> => {
      this.current += 1;
      this.max = Math.max(this.max, this.current);
      try {
        return await run();
      } finally {
        this.current -= 1;
      }
    };
    return {
      service: binding.service,
      toConnect: (options) => {
        const impl = binding.toConnect(options) as Record<string, (request: unknown, context: unknown) => Promise<unknown>>;
        const wrapped = { ...impl };
        const handler = impl[this.method];
        if (handler !== undefined) wrapped[this.method] = (request, context) => track(() => handler(request, context));
        return wrapped as ReturnType<ServiceBinding["toConnect"]>;
      },
      toUnaryInvokers: (options) => {
        const invokers = new Map(binding.toUnaryInvokers(options));
        const invoke = invokers.get(this.method);
        if (invoke !== undefined) invokers.set(this.method, (request, call) => track(() => invoke(request, call)));
        return invokers;
      },
    };
  }
}
