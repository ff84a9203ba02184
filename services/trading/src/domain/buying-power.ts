/**
 * What a buy holds of the account's cash. Whether the account can afford it (its buying power:
 * cash less what open buys hold) or, for a sell, holds the shares (filled less offered by open
 * sells) is decided in PostgreSQL under the account's lock, by `place_check` (migration 0002).
 */
import { feeMinor, grossAmountMinor } from "./money.js";

/** What a buy of `quantity` at `priceMicros` may cost with fees: the amount it holds until it fills. */
export function buyHoldMinor(quantity: bigint, priceMicros: bigint, feeBps: number): bigint {
  const gross = grossAmountMinor(quantity, priceMicros);
  return gross + feeMinor(gross, feeBps);
}
