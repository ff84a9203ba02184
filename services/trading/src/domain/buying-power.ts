/**
 * Buying power and the position available to sell, from the account's own
 * ledger: initial cash plus the cash effect of every fill, less what open buy
 * orders hold; shares filled less shares already offered by open sells.
 */
import { feeMinor, grossAmountMinor } from "./money.js";

/** What an account has, as trading's ledger knows it. */
export interface Balances {
  /** Initial cash + Σ cash effects of the account's fills, minor units. */
  readonly cashMinor: bigint;
  /** Σ what open buy orders hold, minor units. */
  readonly heldMinor: bigint;
}

/** What a buy of `quantity` at `priceMicros` may cost with fees: the amount it holds until it fills. */
export function buyHoldMinor(quantity: bigint, priceMicros: bigint, feeBps: number): bigint {
  const gross = grossAmountMinor(quantity, priceMicros);
  return gross + feeMinor(gross, feeBps);
}

/** Cash not yet spent or held by open buys. */
export function buyingPowerMinor(balances: Balances): bigint {
  return balances.cashMinor - balances.heldMinor;
}

/** The refusal of a buy the account cannot afford, or undefined when it can. */
export function checkFunds(balances: Balances, requiredMinor: bigint): { requiredMinor: bigint; availableMinor: bigint } | undefined {
  const availableMinor = buyingPowerMinor(balances);
  return requiredMinor <= availableMinor ? undefined : { requiredMinor, availableMinor };
}

/** A holding of one symbol: shares filled (buys − sells) and shares offered by open sells. */
export interface Holding {
  readonly filledQuantity: bigint;
  readonly offeredQuantity: bigint;
}

/** The refusal of a sell of more than the account holds and has not offered, or undefined. */
export function checkPosition(holding: Holding, requested: bigint): { requested: bigint; available: bigint } | undefined {
  const available = holding.filledQuantity - holding.offeredQuantity;
  return requested <= available ? undefined : { requested, available: available < 0n ? 0n : available };
}
