/**
 * The rules of a security, as pure functions: what makes one valid, and how
 * list filters are checked. Each broken rule is a field violation named by its proto path.
 */
import { Sector, type Security } from "@meridian/sdk/universe";
import { isoCurrencies } from "./currencies.js";

/** One broken rule. */
export interface Violation {
  readonly field: string;
  readonly description: string;
}

/** Ticker symbols: an upper-case letter, then up to 9 upper-case letters, digits or dots. */
export const symbolPattern = /^[A-Z][A-Z0-9.]{0,9}$/;

/** The rule a symbol breaks, if any. */
export function checkSymbol(symbol: string, field: string): Violation[] {
  return symbolPattern.test(symbol)
    ? []
    : [{ field, description: `must match ${symbolPattern.source} (got ${JSON.stringify(symbol.slice(0, 40))})` }];
}

/** The rule a currency breaks, if any. */
export function checkCurrency(currency: string, field: string): Violation[] {
  return isoCurrencies.has(currency)
    ? []
    : [{ field, description: `must be an ISO 4217 code such as "USD" (got ${JSON.stringify(currency.slice(0, 40))})` }];
}

/** The rule a sector breaks, if any: it must be one of the named sectors. */
export function checkSector(sector: number, field: string): Violation[] {
  return sector !== Sector.UNSPECIFIED && Sector[sector] !== undefined
    ? []
    : [{ field, description: "must be a known sector other than SECTOR_UNSPECIFIED" }];
}

/** Every rule a security breaks (empty when it is valid). */
export function validateSecurity(security: Security | undefined, field = "security"): Violation[] {
  if (security === undefined) return [{ field, description: "is required" }];
  return [
    ...checkSymbol(security.symbol, `${field}.symbol`),
    ...(security.name.trim() === "" ? [{ field: `${field}.name`, description: "must not be empty" }] : []),
    ...(security.name.length > 200 ? [{ field: `${field}.name`, description: "must be at most 200 characters" }] : []),
    ...checkSector(security.sector, `${field}.sector`),
    ...checkCurrency(security.currency, `${field}.currency`),
  ];
}

/** The filters of ListSecurities, normalised. */
export interface SecurityFilter {
  readonly sector: Sector | undefined;
  readonly currency: string | undefined;
  readonly active: boolean | undefined;
}

/** Checks and normalises list filters: unset fields mean "any". */
export function readFilter(input: { sector: Sector; currency: string; active?: boolean }): {
  filter: SecurityFilter;
  violations: Violation[];
} {
  const violations = [
    ...(input.sector === Sector.UNSPECIFIED ? [] : checkSector(input.sector, "sector")),
    ...(input.currency === "" ? [] : checkCurrency(input.currency, "currency")),
  ];
  return {
    filter: {
      sector: input.sector === Sector.UNSPECIFIED ? undefined : input.sector,
      currency: input.currency === "" ? undefined : input.currency,
      active: input.active,
    },
    violations,
  };
}
