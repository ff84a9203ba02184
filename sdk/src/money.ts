/**
 * Meridian's money rules, shared by every service and caller: cash in minor units of the currency
 * (cents), prices in micros (millionths) of the unit, both integers, never binary floating point.
 * One minor unit is 10,000 micros for the two-decimal currencies accounts are opened in.
 */

/** Micros per minor unit: 1,000,000 micros per unit / 100 minor units per unit. */
export const microsPerMinor = 10_000n;

/** `numerator / denominator` rounded to the nearest integer, ties to the even one (banker's rounding); throws RangeError on 0. */
export function divideHalfEven(numerator: bigint, denominator: bigint): bigint {
  if (denominator === 0n) throw new RangeError("division by zero");
  if (denominator < 0n) return divideHalfEven(-numerator, -denominator);
  const quotient = numerator / denominator; // truncated toward zero
  const remainder = numerator - quotient * denominator; // same sign as numerator
  const twice = 2n * (remainder < 0n ? -remainder : remainder);
  if (twice < denominator) return quotient;
  const away = numerator < 0n ? quotient - 1n : quotient + 1n;
  if (twice > denominator) return away;
  return quotient % 2n === 0n ? quotient : away;
}

/** `quantity` shares at `priceMicros`, in minor units, rounded half to even: a fill's gross amount. */
export function grossMinor(quantity: bigint, priceMicros: bigint): bigint {
  return divideHalfEven(quantity * priceMicros, microsPerMinor);
}
