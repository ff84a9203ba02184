/**
 * The portfolio service's own settings (beyond the server, database and Redis variables every
 * service reads), as one schema read at start.
 */
import { Config, Context, Layer } from "effect";
import { positiveInt } from "@meridian/kit";

/** What the portfolio service is tuned by. */
export interface PortfolioOptions {
  /** PORTFOLIO_QUOTE_TIMEOUT_MS: how long a portfolio read waits for quotes before valuing at the last known prices (default 1,000). */
  readonly quoteTimeoutMs: number;
  /** PORTFOLIO_QUOTE_TTL_MS: how long a quote is reused (market ingesting bars for the symbol drops it at once; default 60,000). */
  readonly quoteTtlMs: number;
  /** PORTFOLIO_WATCH_RECHECK_MS: how often a WatchPortfolio stream checks its account itself, besides following notifications (default 5,000). */
  readonly watchRecheckMs: number;
  /** PORTFOLIO_CLAIM_IDLE_MS: how long fills left pending by a dead instance wait before another takes them (default 30,000). */
  readonly claimIdleMs: number;
}

/** The defaults: what the launcher uses when nothing is set. */
export const defaultPortfolioOptions: PortfolioOptions = { quoteTimeoutMs: 1_000, quoteTtlMs: 60_000, watchRecheckMs: 5_000, claimIdleMs: 30_000 };

/** The schema: PORTFOLIO_QUOTE_TIMEOUT_MS, PORTFOLIO_QUOTE_TTL_MS, PORTFOLIO_WATCH_RECHECK_MS, PORTFOLIO_CLAIM_IDLE_MS. */
export const portfolioConfig: Config.Config<PortfolioOptions> = Config.all({
  quoteTimeoutMs: positiveInt("PORTFOLIO_QUOTE_TIMEOUT_MS").pipe(Config.withDefault(defaultPortfolioOptions.quoteTimeoutMs)),
  quoteTtlMs: positiveInt("PORTFOLIO_QUOTE_TTL_MS").pipe(Config.withDefault(defaultPortfolioOptions.quoteTtlMs)),
  watchRecheckMs: positiveInt("PORTFOLIO_WATCH_RECHECK_MS").pipe(Config.withDefault(defaultPortfolioOptions.watchRecheckMs)),
  claimIdleMs: positiveInt("PORTFOLIO_CLAIM_IDLE_MS").pipe(Config.withDefault(defaultPortfolioOptions.claimIdleMs)),
});

/** The tuning in effect, for the handlers that read it. */
export class PortfolioTuning extends Context.Service<PortfolioTuning, PortfolioOptions>()("@meridian/portfolio/Settings") {}

/** Provides the settings. */
export const layerPortfolioOptions = (options: PortfolioOptions) => Layer.succeed(PortfolioTuning, options);
