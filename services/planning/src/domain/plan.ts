/**
 * Plan construction, pure: from an account's cash and holdings, the ranked
 * eligible securities with their quotes, the regime and the risk profile, to
 * target weights and the smallest list of whole-lot trades that moves the
 * account toward them. All money is integer (minor units, price micros).
 *
 * The rules, in order:
 * 1. The allocation table (allocation.ts) gives N names and a cash floor F for the profile and regime.
 * 2. Targets: the N best-scored eligible securities, equal-weighted at (1 − F) / N of the total value
 *    (cash + holdings at their quotes). With fewer than N candidates the rest stays in cash.
 * 3. A holding that is not a target is sold completely (no band, no minimum: no dust is left behind).
 * 4. A target's trade is skipped when its value is within the no-trade band of its target
 *    (|target − current| < band × total value), when the whole-lot quantity is 0, or when its
 *    amount is below the minimum trade.
 * 5. Trims sell whole lots, never more than needed to come down to the target.
 * 6. Sells come first; then buys, best score first, in whole lots, each cut to what is left of
 *    cash + sell proceeds − the cash floor (never beyond it), skipped when cut below the minimum.
 */
import type { Regime } from "@meridian/sdk/market";
import type { RiskProfile } from "@meridian/sdk/portfolio";
import { OrderSide } from "@meridian/sdk/trading";
import { allocationFor, type Allocation } from "./allocation.js";
import { floorToLot, grossMinor, lotsWithin, shareOf } from "./money.js";

/** The knobs of plan construction. */
export interface PlanRules {
  /** Shares per lot; every trade (except the exit of a whole position) is a multiple of it. ≥ 1. */
  readonly lotSize: bigint;
  /** The no-trade band, in basis points of total value (100 = 1 percentage point). */
  readonly bandBps: bigint;
  /** Trades of a smaller estimated amount are not worth placing, in minor units. */
  readonly minTradeMinor: bigint;
}

/** One share lots, a 1 percentage point band, no trade under 10.00. */
export const defaultRules: PlanRules = { lotSize: 1n, bandBps: 100n, minTradeMinor: 1_000n };

/** A position the account holds, priced at its latest quote. */
export interface Holding {
  readonly symbol: string;
  readonly quantity: bigint;
  readonly priceMicros: bigint;
}

/** A security the plan may buy: in the account's currency, active, scored and priced. */
export interface Candidate {
  readonly symbol: string;
  /** Composite score, [0, 100]. */
  readonly score: number;
  readonly priceMicros: bigint;
}

/** Everything a plan is built from. */
export interface PlanInput {
  readonly regime: Regime;
  readonly riskProfile: RiskProfile;
  readonly cashMinor: bigint;
  readonly holdings: ReadonlyArray<Holding>;
  /** Best score first. */
  readonly candidates: ReadonlyArray<Candidate>;
  readonly rules: PlanRules;
}

/** Where the plan aims for one symbol: each target, and each holding it exits (target weight 0). */
export interface TargetLine {
  readonly symbol: string;
  readonly score: number;
  /** Fraction of total value, [0, 1]. */
  readonly targetWeight: number;
  readonly currentWeight: number;
}

/** One order the plan places. */
export interface TradeLine {
  readonly symbol: string;
  readonly side: OrderSide.BUY | OrderSide.SELL;
  /** Shares, > 0. */
  readonly quantity: bigint;
  readonly referencePriceMicros: bigint;
  /** quantity × reference price, minor units. */
  readonly estimatedAmountMinor: bigint;
}

/** A plan as constructed, before it is stored. */
export interface PlanProposal {
  readonly allocation: Allocation;
  /** Cash + holdings at their quotes. */
  readonly totalValueMinor: bigint;
  readonly cashMinor: bigint;
  /** The cash the buys leave untouched: floor × total value. */
  readonly cashFloorMinor: bigint;
  /** Best score first. */
  readonly targets: ReadonlyArray<TargetLine>;
  /** Sells first, then buys (best score first). */
  readonly trades: ReadonlyArray<TradeLine>;
  /** Cash once every trade has filled at its reference price. */
  readonly estimatedCashAfterMinor: bigint;
}

const bps = 10_000n;

/** Builds the plan; see the rules at the top of this file. */
export function buildPlan(input: PlanInput): PlanProposal {
  const { rules } = input;
  const allocation = allocationFor(input.riskProfile, input.regime);
  const held = new Map(input.holdings.filter((h) => h.quantity > 0n).map((h) => [h.symbol, h]));
  const holdingsValue = [...held.values()].reduce((sum, h) => sum + grossMinor(h.quantity, h.priceMicros), 0n);
  const total = input.cashMinor + holdingsValue;
  const cashFloorMinor = shareOf(total, BigInt(allocation.cashFloorBps), bps);
  const chosen = distinct(input.candidates).slice(0, allocation.holdings);
  const chosenSymbols = new Set(chosen.map((c) => c.symbol));
  const perNameMinor = shareOf(total, bps - BigInt(allocation.cashFloorBps), bps * BigInt(allocation.holdings));
  const weightOf = (value: bigint) => (total > 0n ? Number(value) / Number(total) : 0);
  const scoreOf = new Map(input.candidates.map((c) => [c.symbol, c.score]));

  const sells: TradeLine[] = [];
  const wantedBuys: TradeLine[] = [];
  const trade = (symbol: string, side: TradeLine["side"], quantity: bigint, priceMicros: bigint): TradeLine => ({
    symbol,
    side,
    quantity,
    referencePriceMicros: priceMicros,
    estimatedAmountMinor: grossMinor(quantity, priceMicros),
  });
  const worthPlacing = (line: TradeLine) => line.quantity > 0n && line.estimatedAmountMinor >= rules.minTradeMinor;

  // Rule 3: exits, whatever their size.
  for (const h of held.values()) {
    if (!chosenSymbols.has(h.symbol)) sells.push(trade(h.symbol, OrderSide.SELL, h.quantity, h.priceMicros));
  }
  // Rules 4 and 5: targets outside the band move toward their whole-lot target quantity.
  for (const c of chosen) {
    const h = held.get(c.symbol);
    const price = h?.priceMicros ?? c.priceMicros;
    const currentQuantity = h?.quantity ?? 0n;
    const currentValue = grossMinor(currentQuantity, price);
    const gap = perNameMinor - currentValue;
    if ((gap < 0n ? -gap : gap) * bps < rules.bandBps * total) continue;
    const targetQuantity = lotsWithin(perNameMinor, price, rules.lotSize);
    if (targetQuantity < currentQuantity) {
      const line = trade(c.symbol, OrderSide.SELL, floorToLot(currentQuantity - targetQuantity, rules.lotSize), price);
      if (worthPlacing(line)) sells.push(line);
    } else if (targetQuantity > currentQuantity) {
      const line = trade(c.symbol, OrderSide.BUY, floorToLot(targetQuantity - currentQuantity, rules.lotSize), price);
      if (worthPlacing(line)) wantedBuys.push(line);
    }
  }
  sells.sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));

  // Rule 6: buys, best first, within cash after sells minus the floor.
  const proceeds = sells.reduce((sum, s) => sum + s.estimatedAmountMinor, 0n);
  let budget = input.cashMinor + proceeds - cashFloorMinor;
  const buys: TradeLine[] = [];
  for (const wanted of wantedBuys) {
    const affordable = lotsWithin(budget, wanted.referencePriceMicros, rules.lotSize);
    const quantity = wanted.quantity < affordable ? wanted.quantity : affordable;
    const line = trade(wanted.symbol, OrderSide.BUY, quantity, wanted.referencePriceMicros);
    if (!worthPlacing(line)) continue;
    buys.push(line);
    budget -= line.estimatedAmountMinor;
  }

  const targets: TargetLine[] = [
    ...chosen.map((c) => {
      const h = held.get(c.symbol);
      return {
        symbol: c.symbol,
        score: c.score,
        targetWeight: total > 0n ? (1 - allocation.cashFloorBps / 10_000) / allocation.holdings : 0,
        currentWeight: h === undefined ? 0 : weightOf(grossMinor(h.quantity, h.priceMicros)),
      };
    }),
    ...[...held.values()]
      .filter((h) => !chosenSymbols.has(h.symbol))
      .map((h) => ({
        symbol: h.symbol,
        score: scoreOf.get(h.symbol) ?? 0,
        targetWeight: 0,
        currentWeight: weightOf(grossMinor(h.quantity, h.priceMicros)),
      })),
  ].sort((a, b) => b.score - a.score);

  const spent = buys.reduce((sum, b) => sum + b.estimatedAmountMinor, 0n);
  return {
    allocation,
    totalValueMinor: total,
    cashMinor: input.cashMinor,
    cashFloorMinor,
    targets,
    trades: [...sells, ...buys],
    estimatedCashAfterMinor: input.cashMinor + proceeds - spent,
  };
}

/** The first of each symbol, in order. */
function distinct(candidates: ReadonlyArray<Candidate>): Candidate[] {
  const seen = new Set<string>();
  return candidates.filter((c) => c.priceMicros > 0n && !seen.has(c.symbol) && (seen.add(c.symbol), true));
}
