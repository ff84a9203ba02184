/**
 * Money rules, in integers only: prices in micros (millionths) of the currency
 * unit, cash in minor units (cents). One cent is 10,000 micros.
 */

import { divideHalfEven } from "@meridian/sdk";

export { divideHalfEven, grossMinor as grossAmountMinor, microsPerMinor } from "@meridian/sdk";

/** Basis points in one whole. */
export const bpsPerWhole = 10_000n;

/** The fee on a gross amount at `feeBps`, in minor units, rounded half to even. */
export function feeMinor(grossMinor: bigint, feeBps: number): bigint {
  return divideHalfEven(grossMinor * BigInt(feeBps), bpsPerWhole);
}

/** How a fill moves the account's cash: a buy pays gross + fee, a sell receives gross − fee. */
export function cashEffectMinor(side: "buy" | "sell", grossMinor: bigint, fee: bigint): bigint {
  return side === "buy" ? -(grossMinor + fee) : grossMinor - fee;
}
