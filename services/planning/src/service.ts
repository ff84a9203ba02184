/**
 * The planning service as Layers, for its own process (main.ts) and for the
 * all-in-one launcher: its database (schema "planning", migrations applied at
 * start), its store, its rules, and the clients of the services it calls
 * (portfolio, universe, scoring, market, trading). It publishes and consumes
 * no events, so it needs no Cache or EventBus; Health and LocalServices are
 * used when present (readiness of the downstreams; in-process calls).
 */
import { fileURLToPath } from "node:url";
import { Effect, Layer } from "effect";
import { defineService, readConfig, type ConfigInvalid, type Health } from "@meridian/kit";
import { layerClient } from "@meridian/kit/client";
import { layerMigratedDatabase, layerSqlHealth, type PostgresError, type Sql } from "@meridian/kit/postgres";
import type { PolicyOptions } from "@meridian/sdk";
import { Market } from "@meridian/sdk/market";
import { Portfolio } from "@meridian/sdk/portfolio";
import { Scoring } from "@meridian/sdk/scoring";
import { Trading } from "@meridian/sdk/trading";
import { Universe } from "@meridian/sdk/universe";
import {
  layerPlanningRules,
  layerPortfolioCatchUp,
  planningConfig,
  PlanningRules,
  portfolioCatchUpConfig,
  PortfolioCatchUp,
} from "./config.js";
import type { PlanRules } from "./domain/plan.js";
import type { TradingClient } from "./execution.js";
import { planningHandlers } from "./handlers.js";
import type { MarketClient, PortfolioClient, ScoringClient, UniverseClient } from "./inputs.js";
import { layerPlanStore, type PlanStore } from "./store.js";

/** This service's name: its schema, its log name, its data folder. */
export const name = "planning";

/** The folder of this service's SQL migrations. */
export const migrationsDir = fileURLToPath(new URL("../migrations", import.meta.url));

/** The bound service, given the store, the rules and the clients. */
export const planningService = planningHandlers;

/**
 * RankUniverse may score the whole universe on a cold cache: a longer
 * deadline than the default 5 s. MERIDIAN_SCORING_* variables override.
 */
export const scoringPolicy: PolicyOptions = { methods: { rankUniverse: { timeoutMs: 15_000 } } };

/** What the service runs on besides the process environment. */
export interface PlanningSettings {
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  /** The schema (default "planning"; tests use their own). */
  readonly schema?: string;
  /** Plan construction rules; default: read from PLANNING_* variables. */
  readonly rules?: PlanRules;
  /** How long a proposal waits for the portfolio to apply the last plan's fills; default: PLANNING_PORTFOLIO_CATCH_UP_MS. */
  readonly portfolioCatchUpMs?: number;
  /** Variables to read the rules and the downstreams' configuration from instead of the process's (tests). */
  readonly env?: Record<string, string | undefined>;
}

/** Everything the service's handlers read, as one union. */
export type PlanningResources =
  | PlanStore
  | PlanningRules
  | PortfolioCatchUp
  | Sql
  | PortfolioClient
  | MarketClient
  | ScoringClient
  | UniverseClient
  | TradingClient;

/** Everything the service runs on, for main.ts and the launcher: store, rules, clients, readiness check, migrated database. */
export function layerPlanning(settings: PlanningSettings): Layer.Layer<PlanningResources, PostgresError | ConfigInvalid, Health> {
  const env = settings.env === undefined ? {} : { env: settings.env };
  const database = layerMigratedDatabase({
    databaseUrl: settings.databaseUrl,
    dataDir: settings.dataDir,
    schema: settings.schema ?? name,
    migrationsDir,
  });
  const rules =
    settings.rules === undefined
      ? Layer.unwrap(Effect.map(readConfig(planningConfig, settings.env), layerPlanningRules))
      : layerPlanningRules(settings.rules);
  const catchUp =
    settings.portfolioCatchUpMs === undefined
      ? Layer.unwrap(Effect.map(readConfig(portfolioCatchUpConfig, settings.env), layerPortfolioCatchUp))
      : layerPortfolioCatchUp(settings.portfolioCatchUpMs);
  const clients = Layer.mergeAll(
    layerClient(Portfolio, env),
    layerClient(Universe, env),
    layerClient(Scoring, { policy: scoringPolicy, ...env }),
    layerClient(Market, env),
    layerClient(Trading, env),
  );
  return Layer.mergeAll(layerPlanStore, rules, catchUp, clients).pipe(
    Layer.provideMerge(layerSqlHealth),
    Layer.provideMerge(database),
  );
}

/** The planning service as the kit runs it, alone (main.ts) or with the others (the launcher). */
export const planning = defineService({
  name,
  binding: planningService,
  resources: ({ database }) => layerPlanning(database),
});
