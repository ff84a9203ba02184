/**
 * The rules of an account: what OpenAccount accepts, and the request fields the other RPCs
 * check. Each broken rule is a field violation named by its proto field.
 */
import { RiskProfile } from "@meridian/sdk/portfolio";

/** One broken rule. */
export interface Violation {
  readonly field: string;
  readonly description: string;
}

/** An OpenAccount request, normalised. */
export interface NewAccount {
  readonly owner: string;
  readonly initialCashMinor: bigint;
  readonly currency: string;
  readonly riskProfile: RiskProfile;
  readonly idempotencyKey: string;
}

/** The most initial cash accepted, in minor units (10^15: ten trillion units), so sums stay far inside int64. */
export const maxInitialCashMinor = 1_000_000_000_000_000n;

/** The default currency when the request leaves it empty. */
export const defaultCurrency = "USD";

// ISO 4217 codes whose minor unit is not a hundredth: money.ts converts price micros to minor
// units as if every currency had two decimals, so accounts in these would be valued wrongly.
const notTwoDecimalCurrencies = new Set([
  "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
  "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND", "CLF", "UYW",
]);

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `id` has the shape of an account id (a UUID); anything else names no account. */
export function isAccountIdShape(id: string): boolean {
  return uuidPattern.test(id);
}

/** Checks and normalises an OpenAccount request: the account to open, or every rule it breaks. */
export function readNewAccount(request: {
  owner: string;
  initialCashMinor: bigint;
  currency: string;
  riskProfile: RiskProfile;
  idempotencyKey: string;
}): { account: NewAccount; violations: Violation[] } {
  const owner = request.owner.trim();
  const currency = request.currency === "" ? defaultCurrency : request.currency;
  const violations: Violation[] = [
    ...checkOwner(request.owner, "owner"),
    ...(request.initialCashMinor <= 0n ? [{ field: "initial_cash_minor", description: "must be > 0" }] : []),
    ...(request.initialCashMinor > maxInitialCashMinor
      ? [{ field: "initial_cash_minor", description: `must be at most ${maxInitialCashMinor}` }]
      : []),
    ...checkCurrency(currency, "currency"),
    ...(request.riskProfile === RiskProfile.UNSPECIFIED || RiskProfile[request.riskProfile] === undefined
      ? [{ field: "risk_profile", description: "must be RISK_PROFILE_CONSERVATIVE, RISK_PROFILE_BALANCED or RISK_PROFILE_AGGRESSIVE" }]
      : []),
    ...(request.idempotencyKey.trim() === "" ? [{ field: "idempotency_key", description: "must not be empty: the same key returns the same account" }] : []),
    ...(request.idempotencyKey.length > 200 ? [{ field: "idempotency_key", description: "must be at most 200 characters" }] : []),
  ];
  return {
    account: { owner, initialCashMinor: request.initialCashMinor, currency, riskProfile: request.riskProfile, idempotencyKey: request.idempotencyKey },
    violations,
  };
}

/** The rules an owner breaks, if any: non-empty after trimming, at most 200 characters. */
export function checkOwner(owner: string, field: string): Violation[] {
  if (owner.trim() === "") return [{ field, description: "must not be empty" }];
  if (owner.length > 200) return [{ field, description: "must be at most 200 characters" }];
  return [];
}

/** The rules a currency breaks, if any: three capital letters (ISO 4217) with two minor digits. */
export function checkCurrency(currency: string, field: string): Violation[] {
  if (!/^[A-Z]{3}$/.test(currency)) {
    return [{ field, description: `must be an ISO 4217 code of three capital letters such as "USD" (got ${JSON.stringify(currency.slice(0, 40))})` }];
  }
  if (notTwoDecimalCurrencies.has(currency)) {
    return [{ field, description: `must be a currency with two minor digits (cents); ${currency} has not` }];
  }
  return [];
}

/** The rules an account id in a request breaks: it must be given. (An unknown one is UnknownAccount.) */
export function checkAccountId(accountId: string, field = "account_id"): Violation[] {
  return accountId === "" ? [{ field, description: "must not be empty" }] : [];
}

/** The rules a date field breaks: empty, or a real "YYYY-MM-DD" date. */
export function checkDate(date: string, field: string): Violation[] {
  if (date === "") return [];
  const time = /^\d{4}-\d{2}-\d{2}$/.test(date) ? Date.parse(`${date}T00:00:00Z`) : Number.NaN;
  // Date.parse rolls 2024-02-30 over to March: a real date reads back the same.
  const valid = !Number.isNaN(time) && new Date(time).toISOString().slice(0, 10) === date;
  return valid ? [] : [{ field, description: `must be a date "YYYY-MM-DD" (got ${JSON.stringify(date.slice(0, 40))})` }];
}
