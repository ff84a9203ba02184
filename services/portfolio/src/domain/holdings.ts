/**
 * An account's cash and positions, and how one fill moves them. Pure: the store loads the
 * holdings, applies the fill with these rules and writes the result in the same transaction.
 *
 * Rules (agreed with trading):
 * - a buy takes `gross + fee` from cash and adds the shares; their cost basis grows by `gross`
 *   (what the shares cost), and the fee is a realised loss at once;
 * - a sell adds `gross − fee` to cash and removes the shares; the cost of the shares sold is the
 *   position's cost basis × sold / held (rounded half to even; all of it when the position
 *   closes) and the realised P&L grows by `gross − fee − cost sold`.
 * So, to the minor unit: cash + Σ cost basis = initial cash + realised P&L, and with market
 * values, total value = initial cash + realised P&L + unrealised P&L.
 */
import { divideHalfEven, microsPerMinor } from "./money.js";

/** A holding of one symbol: shares held (> 0) and what they cost in minor units. */
export interface Holding {
  readonly symbol: string;
  readonly quantity: bigint;
  readonly costBasisMinor: bigint;
}

/** One execution, as trading reports it in OrderFilled. */
export interface Fill {
  readonly fillId: string;
  readonly symbol: string;
  readonly side: "buy" | "sell";
  readonly quantity: bigint;
  readonly priceMicros: bigint;
  /** quantity × price in minor units (trading's rounding), before fees. */
  readonly grossAmountMinor: bigint;
  readonly feeMinor: bigint;
}

/** What a fill changes: the deltas, and the symbol's holding after it (undefined when closed). */
export interface FillEffect {
  readonly cashDeltaMinor: bigint;
  readonly realizedPnlDeltaMinor: bigint;
  /** Shares added (buy, > 0) or removed (sell, < 0). */
  readonly quantityDelta: bigint;
  readonly holding: Holding | undefined;
}

/** Why a fill cannot be applied; it would leave the books wrong, so it is refused whole. */
export type FillRefusal =
  | { readonly _tag: "InvalidFill"; readonly reason: string }
  | { readonly _tag: "InsufficientShares"; readonly symbol: string; readonly held: bigint; readonly sold: bigint };

/**
 * Applies `fill` to the holding of its symbol (`undefined` when none is held). Refuses a fill
 * with a non-positive quantity, a negative price, gross or fee, and a sell of more than is held.
 */
export function applyFill(holding: Holding | undefined, fill: Fill): FillEffect | FillRefusal {
  if (fill.quantity <= 0n) return { _tag: "InvalidFill", reason: `quantity must be > 0 (got ${fill.quantity})` };
  if (fill.priceMicros < 0n) return { _tag: "InvalidFill", reason: `price_micros must be >= 0 (got ${fill.priceMicros})` };
  if (fill.grossAmountMinor < 0n) return { _tag: "InvalidFill", reason: `gross_amount_minor must be >= 0 (got ${fill.grossAmountMinor})` };
  if (fill.feeMinor < 0n) return { _tag: "InvalidFill", reason: `fee_minor must be >= 0 (got ${fill.feeMinor})` };
  if (holding !== undefined && holding.symbol !== fill.symbol) {
    return { _tag: "InvalidFill", reason: `holding of ${holding.symbol} given for a fill of ${fill.symbol}` };
  }
  const held = holding?.quantity ?? 0n;
  const cost = holding?.costBasisMinor ?? 0n;
  if (fill.side === "buy") {
    return {
      cashDeltaMinor: -(fill.grossAmountMinor + fill.feeMinor),
      realizedPnlDeltaMinor: -fill.feeMinor,
      quantityDelta: fill.quantity,
      holding: { symbol: fill.symbol, quantity: held + fill.quantity, costBasisMinor: cost + fill.grossAmountMinor },
    };
  }
  if (fill.quantity > held) return { _tag: "InsufficientShares", symbol: fill.symbol, held, sold: fill.quantity };
  const remaining = held - fill.quantity;
  // Closing takes the whole cost basis, so no rounding residue is left on a position of 0 shares.
  const costSold = remaining === 0n ? cost : divideHalfEven(cost * fill.quantity, held);
  return {
    cashDeltaMinor: fill.grossAmountMinor - fill.feeMinor,
    realizedPnlDeltaMinor: fill.grossAmountMinor - fill.feeMinor - costSold,
    quantityDelta: -fill.quantity,
    holding: remaining === 0n ? undefined : { symbol: fill.symbol, quantity: remaining, costBasisMinor: cost - costSold },
  };
}

/** True when `applyFill` refused the fill. */
export function isRefusal(result: FillEffect | FillRefusal): result is FillRefusal {
  return "_tag" in result;
}

/** Average cost per share in micros: cost basis / quantity, rounded half to even; 0 for no shares. */
export function averageCostMicros(holding: Holding): bigint {
  return holding.quantity === 0n ? 0n : divideHalfEven(holding.costBasisMinor * microsPerMinor, holding.quantity);
}
