/**
 * Scoring in-process for tests: its handlers behind the in-process transport,
 * over the real universe service (in-process, on a fresh PostgreSQL database) and a market
 * that is either served in this process (its bindings given) or remote at a URL.
 * Cache and event bus are the in-process ones unless Layers are given.
 */
import { createServer } from "node:net";
import { Effect, Layer, ManagedRuntime } from "effect";
import { inProcess, type ServiceBinding } from "@meridian/kit";
import { layerMemoryCache, type Cache } from "@meridian/kit/cache";
import { layerLocalServices } from "@meridian/kit/client";
import { layerMemoryEventBus, type EventBus } from "@meridian/kit/events";
import { postgresDatabase } from "@meridian/kit/testing";
import { createEffectClient, type EffectClient } from "@meridian/sdk";
import { Scoring } from "@meridian/sdk/scoring";
import { layerStore, layerUniverseDatabase, universeService } from "@meridian/universe";
import { layerScoring, scoringService } from "../src/service.js";

/** A scoring service running in this process, and its client. */
export interface ScoringUnderTest {
  readonly client: EffectClient<typeof Scoring>;
  /** Runs an effect with the scoring service's resources (cache, bus, clients). */
  readonly runtime: ManagedRuntime.ManagedRuntime<Cache | EventBus, unknown>;
  readonly dispose: () => Promise<void>;
}

/** How to build it. */
export interface ScoringOptions {
  /** Variables for the downstream clients, e.g. MERIDIAN_MARKET_URL; unset ones are in-process. */
  readonly env?: Record<string, string | undefined>;
  /** More services to serve in-process beside universe (e.g. market), with the Layer they need. */
  readonly local?: {
    readonly bindings: ReadonlyArray<Effect.Effect<ServiceBinding, never, any>>;
    readonly layer: Layer.Layer<any, any, any>;
  };
  /** Cache and event bus; default in-process. */
  readonly backing?: Layer.Layer<Cache | EventBus, any, any>;
}

/** Starts universe (on a fresh database of the real PostgreSQL) and scoring in this process. */
export async function startScoring(options: ScoringOptions = {}): Promise<ScoringUnderTest> {
  const database = await postgresDatabase();
  const databaseUrl = database.env.DATABASE_URL!;
  const universe = layerStore.pipe(Layer.provideMerge(layerUniverseDatabase({ databaseUrl, dataDir: "" })));
  const backing = options.backing ?? Layer.merge(layerMemoryCache(), layerMemoryEventBus({ source: "scoring" }));
  const others = options.local;
  const served = layerLocalServices([universeService, ...(others?.bindings ?? [])]).pipe(
    Layer.provide(others === undefined ? universe : Layer.merge(universe, others.layer)),
  );
  const layer = layerScoring({ env: options.env ?? {} }).pipe(Layer.provideMerge(backing), Layer.provide(served));
  const runtime = ManagedRuntime.make(layer as Layer.Layer<Cache | EventBus, unknown>);
  const transport = await runtime.runPromise(inProcess([scoringService as Effect.Effect<ServiceBinding, never, any>]));
  return {
    // No policies on the test's own calls: each error is exactly what scoring answered.
    client: createEffectClient(Scoring, { transport, policy: false }),
    runtime,
    dispose: async () => {
      await runtime.dispose();
      await database.drop();
    },
  };
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
