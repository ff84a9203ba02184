/**
 * The platform in this process for planning's tests: universe, market (seeded
 * with the shipped dataset), scoring, portfolio, trading and planning, each
 * from its own package and Layers, calling each other in-process as in the
 * all-in-one launcher, on one fresh database of the real PostgreSQL (a schema
 * each) and the in-process cache and event bus (streams prefixed per run).
 * Planning reaches the others only through its SDK clients.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { Effect, Layer, ManagedRuntime } from "effect";
import {
  defineService,
  layerHealth,
  layerLifecycle,
  layerServicesInProcess,
  type ServiceBinding,
  type ServiceDefinition,
} from "@meridian/kit";
import { LocalServices } from "@meridian/kit/client";
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
export async function startPlatform(
  options: {
    readonly rules?: PlanRules;
    /** How long a proposal waits for the portfolio to catch up (default 5 s). */
    readonly portfolioCatchUpMs?: number;
    /** Wraps trading's binding, e.g. to lose answers ({@link LostAnswers}). */
    readonly wrapTrading?: (binding: ServiceBinding) => ServiceBinding;
  } = {},
): Promise<Platform> {
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
      resources: ({ database }) =>
        layerPlanning({
          ...database,
          env: {},
          ...(options.rules === undefined ? {} : { rules: options.rules }),
          ...(options.portfolioCatchUpMs === undefined ? {} : { portfolioCatchUpMs: options.portfolioCatchUpMs }),
        }),
    }),
  ];
  const wrapTrading = options.wrapTrading ?? ((b: ServiceBinding) => b);
  const services = layerServicesInProcess(definitions, settings, limits, (b) =>
    b.service.desc.typeName === "meridian.trading.v1.TradingService" ? wrapTrading(b) : b,
  );
  const runtime = ManagedRuntime.make(
    services.pipe(Layer.provideMerge(layerHealth), Layer.provide(layerLifecycle)) as Layer.Layer<LocalServices, unknown>,
  );
  const local = await runtime.runPromise(Effect.service(LocalServices)).catch(async (e: unknown) => {
    await runtime.dispose();
    await database.drop();
    throw e;
  });
  return {
    clientOf: (service) =>
      createEffectClient(service, { transport: local.transportOf(service.desc.typeName)!, policy: false }),
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

/**
 * Loses the answers of chosen calls of one method: the handler runs (its
 * effects happen), then the caller gets `unavailable`, as when a process
 * crashes or the network drops between the work and the reply.
 */
export class LostAnswers {
  /** Calls of the method so far, answered or not. */
  calls = 0;
  /** Which calls (1-based) lose their answer; none by default. */
  lose: (call: number) => boolean = () => false;

  constructor(private readonly method: string) {}

  binding(binding: ServiceBinding): ServiceBinding {
    const after = async <A>(run: () => Promise<A>): Promise<A> => {
      this.calls += 1;
      const call = this.calls;
      const answer = await run();
      if (this.lose(call)) throw new ConnectError("the answer was lost", Code.Unavailable);
      return answer;
    };
    return {
      service: binding.service,
      toConnect: (limits) => {
        const impl = binding.toConnect(limits) as Record<string, (request: unknown, context: unknown) => Promise<unknown>>;
        const handler = impl[this.method];
        return (handler === undefined
          ? impl
          : { ...impl, [this.method]: (request: unknown, context: unknown) => after(() => handler(request, context)) }) as ReturnType<
          ServiceBinding["toConnect"]
        >;
      },
      toUnaryInvokers: (limits) => {
        const invokers = new Map(binding.toUnaryInvokers(limits));
        const invoke = invokers.get(this.method);
        if (invoke !== undefined) invokers.set(this.method, (request, call) => after(() => invoke(request, call)));
        return invokers;
      },
    };
  }
}
