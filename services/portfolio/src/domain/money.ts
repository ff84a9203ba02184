/**
 * Integer money arithmetic. Cash is in minor units of the account currency (cents), prices in
 * micros (millionths) of the currency unit, both as bigint: never binary floating point.
 *
 * A price in micros of a unit becomes minor units by dividing by 10,000: that assumes a currency
 * with two minor digits (USD, EUR, GBP…). Accounts are only opened in such currencies
 * (see account.ts), so the assumption holds for every amount this service computes.
 */

export { divideHalfEven, grossMinor as amountMinor, microsPerMinor } from "@meridian/sdk";
