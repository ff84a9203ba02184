/**
 * Money rules, in integers only: prices in micros (millionths) of the currency
 * unit, cash in minor units (cents). One cent is 10,000 micros.
 */

/** Micros of the currency unit in one minor unit (cent). */
export const microsPerMinor = 10_000n;

/** Basis points in one whole. */
export const bpsPerWhole = 10_000n;

/** `numerator / denominator` rounded half to even (banker's rounding); the denominator is positive. */
export function divideHalfEven(numerator: bigint, denominator: bigint): bigint {
  if (denominator <= 0n) throw new RangeError("denominator must be positive");
  const quotient = numerator / denominator; // truncates toward zero
  const remainder = numerator - quotient * denominator;
  if (remainder === 0n) return quotient;
  const twice = 2n * (remainder < 0n ? -remainder : remainder);
  const away = numerator < 0n ? quotient - 1n : quotient + 1n;
  if (twice > denominator) return away;
  if (twice < denominator) return quotient;
  return quotient % 2n === 0n ? quotient : away;
}

/** quantity × price, in minor units, rounded half to even: the cash a fill moves before fees. */
export function grossAmountMinor(quantity: bigint, priceMicros: bigint): bigint {
  return divideHalfEven(quantity * priceMicros, microsPerMinor);
}

/** The fee on a gross amount at `feeBps`, in minor units, rounded half to even. */
export function feeMinor(grossMinor: bigint, feeBps: number): bigint {
  return divideHalfEven(grossMinor * BigInt(feeBps), bpsPerWhole);
}

/** How a fill moves the account's cash: a buy pays gross + fee, a sell receives gross − fee. */
export function cashEffectMinor(side: "buy" | "sell", grossMinor: bigint, fee: bigint): bigint {
  return side === "buy" ? -(grossMinor + fee) : grossMinor - fee;
}
