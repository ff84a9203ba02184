/**
 * Trading in-process for tests, as the all-in-one launcher runs it: universe,
 * market (no shipped dataset: tests ingest the bars they need), portfolio and
 * trading in this process, calling each other in-process, on a fresh database
 * of the real PostgreSQL; cache and event bus in-process unless given.
 */
import { create } from "@bufbuild/protobuf";
import { Effect, Layer, ManagedRuntime } from "effect";
import { layerHealth, layerLifecycle, type Health, type ServiceBinding } from "@meridian/kit";
import { layerMemoryCache, type Cache } from "@meridian/kit/cache";
import { deferredLocalServices, LocalServices } from "@meridian/kit/client";
import { layerMemoryEventBus, type EventBus } from "@meridian/kit/events";
import { embeddedDatabase, postgresDatabase, type TestDatabase } from "@meridian/kit/testing";
import { createEffectClient, type EffectClient, type MeridianService } from "@meridian/sdk";
import { BarSchema, Market, type Bar } from "@meridian/sdk/market";
import { Portfolio, RiskProfile } from "@meridian/sdk/portfolio";
import { Trading } from "@meridian/sdk/trading";
import { layerMarket, marketService } from "@meridian/market";
import { layerPortfolio, portfolioService } from "@meridian/portfolio";
import { layerUniverse, universeService } from "@meridian/universe";
import { layerTrading, tradingService, type TradingSettings } from "../src/service.js";

/** Trading and its downstreams, running in this process. */
export interface TradingUnderTest {
  readonly client: EffectClient<typeof Trading>;
  /** A client of any service served here (market, portfolio, universe); `policy: false` to see each answer as it is. */
  readonly clientOf: <M extends MeridianService>(service: M, options?: { readonly policy?: false }) => EffectClient<M>;
  readonly runtime: ManagedRuntime.ManagedRuntime<Cache | EventBus, unknown>;
  readonly database: TestDatabase;
  /** Opens an account with this much cash (minor units) and returns its id. */
  readonly openAccount: (initialCashMinor: bigint, currency?: string) => Promise<string>;
  /** Ingests daily bars for a symbol: `[date, open, high, low, close]` in micros. */
  readonly ingest: (symbol: string, bars: ReadonlyArray<readonly [string, bigint, bigint, bigint, bigint]>) => Promise<void>;
  readonly dispose: () => Promise<void>;
}

const limits = { maxMessageBytes: 4 * 1024 * 1024, deadlineCapMs: 30_000 };

/** Starts universe, market, portfolio and trading in this process. */
export async function startTrading(
  options: {
    readonly settings?: TradingSettings;
    readonly backing?: Layer.Layer<Cache | EventBus, unknown, Health>;
    /** Trading's own data in embedded PGlite (as `bun start` keeps it) instead of the real PostgreSQL. */
    readonly embedded?: boolean;
    /** Trading reaches the database through this instead (e.g. a proxy a test cuts): its URL, given the database's. */
    readonly tradingDatabaseUrl?: (databaseUrl: string) => string;
  } = {},
): Promise<TradingUnderTest> {
  const database = await postgresDatabase();
  const db = { databaseUrl: database.env.DATABASE_URL!, dataDir: "" };
  const embedded = options.embedded === true ? await embeddedDatabase() : undefined;
  const tradingDb =
    embedded !== undefined
      ? { databaseUrl: undefined, dataDir: embedded.env.MERIDIAN_DATA_DIR! }
      : { ...db, databaseUrl: options.tradingDatabaseUrl?.(db.databaseUrl) ?? db.databaseUrl };
  const backing =
    options.backing ??
    Layer.merge(layerMemoryCache(), layerMemoryEventBus({ source: "test", keyPrefix: `trading-test-${crypto.randomUUID()}:`, isolated: true }));
  const local = deferredLocalServices();
  const fast = { pollIntervalMs: 10 };
  const services = Layer.mergeAll(
    layerUniverse(db),
    layerMarket({ ...db, seed: "off" }),
    layerPortfolio({ database: db, relay: fast }),
    layerTrading(tradingDb, { settings: options.settings ?? { slippageBps: 5, feeBps: 0 }, relay: fast }),
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
      Effect.all([universeService, marketService, portfolioService, tradingService] as Array<Effect.Effect<ServiceBinding, never, any>>),
    );
    local.bind(bindings, limits);
  } catch (e) {
    await runtime.dispose();
    await database.drop();
    await embedded?.drop();
    throw e;
  }
  const clientOf = <M extends MeridianService>(service: M, options: { readonly policy?: false } = {}) =>
    createEffectClient(service, { transport: local.registry.transportOf(service.desc.typeName)!, ...options });
  const portfolio = clientOf(Portfolio);
  const market = clientOf(Market);
  return {
    client: clientOf(Trading),
    clientOf,
    runtime: runtime as unknown as ManagedRuntime.ManagedRuntime<Cache | EventBus, unknown>,
    database,
    openAccount: async (initialCashMinor, currency = "USD") => {
      const { account } = await Effect.runPromise(
        portfolio.openAccount({
          owner: `owner-${crypto.randomUUID().slice(0, 8)}`,
          initialCashMinor,
          currency,
          riskProfile: RiskProfile.BALANCED,
          idempotencyKey: crypto.randomUUID(),
        }),
      );
      return account!.accountId;
    },
    ingest: async (symbol, bars) => {
      const messages: Bar[] = bars.map(([date, open, high, low, close]) =>
        create(BarSchema, { date, openMicros: open, highMicros: high, lowMicros: low, closeMicros: close, volume: 1_000n }),
      );
      await Effect.runPromise(market.ingestBars({ symbol, bars: messages }));
    },
    dispose: async () => {
      await runtime.dispose();
      await database.drop();
      await embedded?.drop();
    },
  };
}

/** Runs an Effect to its value. */
export const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect);
/** Runs an Effect expected to fail, to its error. */
export const failureOf = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(Effect.flip(effect));

/** Polls until `done` holds (events are asynchronous), failing after `timeoutMs`. */
export async function until(done: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await Bun.sleep(25);
  }
}
