/**
 * The platform in this process for planning's tests: universe, market (seeded
 * with the shipped dataset), scoring, portfolio, trading and planning, each
 * from its own package and Layers, calling each other in-process as in the
 * all-in-one launcher, on one fresh database of the real PostgreSQL (a schema
 * each) and the in-process cache and event bus (streams prefixed per run).
 * Planning reaches the others only through its SDK clients.
 */
import { Effect, Layer, ManagedRuntime } from "effect";
import {
  defineService,
  layerHealth,
  layerLifecycle,
  layerServiceResources,
  type ServiceBinding,
  type ServiceDefinition,
} from "@meridian/kit";
import { deferredLocalServices, LocalServices } from "@meridian/kit/client";
import { postgresDatabase, type TestDatabase } from "@meridian/kit/testing";
import { createEffectClient, type EffectClient, type MeridianService } from "@meridian/sdk";
import { layerMarket, marketService } from "@meridian/market";
import { layerPortfolio, portfolioService } from "@meridian/portfolio";
import { scoring } from "@meridian/scoring";
import { trading } from "@meridian/trading";
import { universe } from "@meridian/universe";
import type { PlanRules } from "../src/domain/plan.js";
import { layerPlanning, planningService } from "../src/service.js";

/** The services running, and clients of each. */
export interface Platform {
  /** A client of any service of the platform, policies off: each error is what the service answered. */
  readonly clientOf: <M extends MeridianService>(service: M) => EffectClient<M>;
  readonly database: TestDatabase;
  readonly dispose: () => Promise<void>;
}

const limits = { maxMessageBytes: 4 * 1024 * 1024, deadlineCapMs: 60_000 };

/** Starts every service planning calls, and planning, in this process. */
export async function startPlatform(options: { readonly rules?: PlanRules } = {}): Promise<Platform> {
  const database = await postgresDatabase();
  const settings = {
    database: { databaseUrl: database.env.DATABASE_URL!, dataDir: "" },
    redisUrl: undefined,
    redisKeyPrefix: `test:planning:${crypto.randomUUID().slice(0, 8)}:`,
  };
  const definitions: ReadonlyArray<ServiceDefinition<any>> = [
    universe,
    defineService<any>({ name: "market", binding: marketService, resources: ({ database }) => layerMarket({ ...database, seed: "auto" }) }),
    scoring,
    defineService<any>({ name: "portfolio", binding: portfolioService, resources: ({ database }) => layerPortfolio({ database }) }),
    trading,
    defineService<any>({
      name: "planning",
      binding: planningService,
      resources: ({ database }) => layerPlanning({ ...database, env: {}, ...(options.rules === undefined ? {} : { rules: options.rules }) }),
    }),
  ];
  const local = deferredLocalServices();
  const resources = definitions
    .map((definition) => layerServiceResources(definition, settings))
    .reduce((all, layer) => Layer.merge(all, layer))
    .pipe(
      Layer.provideMerge(Layer.succeed(LocalServices, local.registry)),
      Layer.provideMerge(layerHealth),
      Layer.provide(layerLifecycle),
    );
  const runtime = ManagedRuntime.make(resources as Layer.Layer<unknown, unknown>);
  try {
    const bindings = await runtime.runPromise(
      Effect.all(definitions.map((d) => d.binding)) as Effect.Effect<ServiceBinding[], never, unknown>,
    );
    local.bind(bindings, limits);
  } catch (e) {
    await runtime.dispose();
    await database.drop();
    throw e;
  }
  return {
    clientOf: (service) =>
      createEffectClient(service, { transport: local.registry.transportOf(service.desc.typeName)!, policy: false }),
    database,
    dispose: async () => {
      await runtime.dispose();
      await database.drop();
    },
  };
}

/** Runs a client call. */
export const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect);

/** The error a client call fails with. */
export const failureOf = <A, E>(effect: Effect.Effect<A, E>): Promise<E> => Effect.runPromise(Effect.flip(effect));

/** Polls `check` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<A>(check: () => Promise<A | undefined>, timeoutMs = 10_000, what = "condition"): Promise<A> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}
