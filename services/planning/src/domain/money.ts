/**
 * Integer money, as every Meridian service counts it: cash in minor units
 * (cents), prices in micros. One minor unit is 10,000 micros (two-decimal
 * currencies), so a quantity × a price in micros / 10,000 is minor units.
 */

import { grossMinor, microsPerMinor } from "@meridian/sdk";

export { grossMinor, microsPerMinor };

/** The most whole lots whose gross amount fits in `minor` at `priceMicros` (0 when none does), in shares. */
export function lotsWithin(minor: bigint, priceMicros: bigint, lotSize: bigint): bigint {
  if (minor <= 0n || priceMicros <= 0n) return 0n;
  let shares = floorToLot((minor * microsPerMinor) / priceMicros, lotSize);
  // Half-even rounding may make the last lot cost a minor unit more than `minor`.
  while (shares > 0n && grossMinor(shares, priceMicros) > minor) shares -= lotSize;
  return shares;
}

/** `shares` rounded down to a whole number of lots. */
export function floorToLot(shares: bigint, lotSize: bigint): bigint {
  return shares <= 0n ? 0n : (shares / lotSize) * lotSize;
}

/** `numerator × parts / whole`, rounded down: a share of an amount, in integers. */
export function shareOf(amount: bigint, parts: bigint, whole: bigint): bigint {
  return (amount * parts) / whole;
}
