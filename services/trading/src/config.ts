/**
 * The trading service's own settings, one schema read once at start:
 *   TRADING_SLIPPAGE_BPS  market orders fill this many basis points against the trader (default 5)
 *   TRADING_FEE_BPS       fee per fill, basis points of its gross amount (default 0)
 */
import { Config, Context, Layer, Schema } from "effect";

/** How simulated execution prices and charges fills. */
export interface TradingSettings {
  readonly slippageBps: number;
  readonly feeBps: number;
}

/** The settings the handlers and the limit-order consumer read. */
export class TradingConfig extends Context.Service<TradingConfig, TradingSettings>()("@meridian/trading/Settings") {}

/** Basis points: a whole number from 0 to 10,000 (100 %). */
function basisPoints(name: string): Config.Config<number> {
  return Config.schema(
    Schema.FiniteFromString.pipe(Schema.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum: 10_000 }))),
    name,
  );
}

/** TRADING_SLIPPAGE_BPS and TRADING_FEE_BPS, validated. */
export const tradingConfig: Config.Config<TradingSettings> = Config.all({
  slippageBps: basisPoints("TRADING_SLIPPAGE_BPS").pipe(Config.withDefault(5)),
  feeBps: basisPoints("TRADING_FEE_BPS").pipe(Config.withDefault(0)),
});

/** Provides the settings. */
export const layerTradingSettings = (settings: TradingSettings): Layer.Layer<TradingConfig> => Layer.succeed(TradingConfig, settings);
