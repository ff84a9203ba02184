/**
 * Integer money arithmetic. Cash is in minor units of the account currency (cents), prices in
 * micros (millionths) of the currency unit, both as bigint: never binary floating point.
 *
 * A price in micros of a unit becomes minor units by dividing by 10,000: that assumes a currency
 * with two minor digits (USD, EUR, GBP…). Accounts are only opened in such currencies
 * (see account.ts), so the assumption holds for every amount this service computes.
 */

/** Micros per minor unit for a two-decimal currency: 1,000,000 micros per unit / 100 minor per unit. */
export const microsPerMinor = 10_000n;

/** `numerator / denominator` rounded to the nearest integer, ties to the even one (banker's rounding). */
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

/** The value of `quantity` shares at `priceMicros`, in minor units, rounded half to even. */
export function amountMinor(quantity: bigint, priceMicros: bigint): bigint {
  return divideHalfEven(quantity * priceMicros, microsPerMinor);
}
