/**
 * The planning service's own settings, one schema read once at start:
 *   PLANNING_LOT_SIZE         shares per lot; trades are whole lots (default 1)
 *   PLANNING_BAND_BPS         no-trade band, basis points of total value (default 100 = 1 percentage point)
 *   PLANNING_MIN_TRADE_MINOR  smallest trade worth placing, minor units (default 1000 = 10.00)
 *   PLANNING_PORTFOLIO_CATCH_UP_MS  how long a proposal waits for the portfolio to apply the fills
 *                             of the account's last executed plan (default 5000)
 */
import { Config, Context, Layer, Schema } from "effect";
import { positiveInt } from "@meridian/kit";
import { defaultRules, type PlanRules } from "./domain/plan.js";

/** The rules plans are built with. */
export class PlanningRules extends Context.Service<PlanningRules, PlanRules>()("@meridian/planning/Rules") {}

function nonNegativeInt(name: string, maximum: number): Config.Config<number> {
  return Config.schema(
    Schema.FiniteFromString.pipe(Schema.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum }))),
    name,
  );
}

/** PLANNING_LOT_SIZE, PLANNING_BAND_BPS and PLANNING_MIN_TRADE_MINOR, validated. */
export const planningConfig: Config.Config<PlanRules> = Config.all({
  lotSize: positiveInt("PLANNING_LOT_SIZE").pipe(Config.withDefault(Number(defaultRules.lotSize)), Config.map(BigInt)),
  bandBps: nonNegativeInt("PLANNING_BAND_BPS", 10_000).pipe(Config.withDefault(Number(defaultRules.bandBps)), Config.map(BigInt)),
  minTradeMinor: nonNegativeInt("PLANNING_MIN_TRADE_MINOR", Number.MAX_SAFE_INTEGER).pipe(
    Config.withDefault(Number(defaultRules.minTradeMinor)),
    Config.map(BigInt),
  ),
});

/** Provides the rules. */
export const layerPlanningRules = (rules: PlanRules): Layer.Layer<PlanningRules> => Layer.succeed(PlanningRules, rules);

/** How long a proposal waits for the portfolio to catch up with the account's last executed plan. */
export class PortfolioCatchUp extends Context.Service<PortfolioCatchUp, { readonly timeoutMs: number }>()(
  "@meridian/planning/PortfolioCatchUp",
) {}

/** PLANNING_PORTFOLIO_CATCH_UP_MS, validated. */
export const portfolioCatchUpConfig: Config.Config<number> = positiveInt("PLANNING_PORTFOLIO_CATCH_UP_MS").pipe(Config.withDefault(5000));

/** Provides the catch-up bound. */
export const layerPortfolioCatchUp = (timeoutMs: number): Layer.Layer<PortfolioCatchUp> => Layer.succeed(PortfolioCatchUp, { timeoutMs });
