/**
 * The generic cell rate algorithm (GCRA): a token bucket kept as one number per key, the
 * "theoretical arrival time" (TAT) of the next request at the sustained rate. A request at `now`
 * is allowed while the TAT is at most `(burst − 1)` intervals ahead of it; each allowed request
 * pushes the TAT one interval further. The in-process limiter runs this function; the Redis one
 * runs the same steps in a script (redis-limiter.ts), so the two agree to the millisecond.
 */

/** How much a key may do: `perSecond` sustained, up to `burst` at once after a quiet spell. */
export interface Rate {
  readonly perSecond: number;
  readonly burst: number;
}

/** One request's fate. */
export type Decision =
  | { readonly allowed: true; /** The key's new TAT (ms). */ readonly tat: number }
  | { readonly allowed: false; /** When the request would be allowed, in ms from now (≥ 1). */ readonly retryAfterMs: number };

/** The interval between requests at the sustained rate, and how far ahead the TAT may run, in ms. */
export function gcraParameters(rate: Rate): { readonly intervalMs: number; readonly toleranceMs: number } {
  const intervalMs = 1000 / rate.perSecond;
  return { intervalMs, toleranceMs: (rate.burst - 1) * intervalMs };
}

/** Decides a request at `nowMs` for a key whose TAT is `tatMs` (undefined: never seen, or expired). */
export function decide(nowMs: number, tatMs: number | undefined, rate: Rate): Decision {
  const { intervalMs, toleranceMs } = gcraParameters(rate);
  const tat = Math.max(tatMs ?? nowMs, nowMs);
  const allowedFrom = tat - toleranceMs;
  if (nowMs < allowedFrom) return { allowed: false, retryAfterMs: Math.max(1, Math.ceil(allowedFrom - nowMs)) };
  return { allowed: true, tat: tat + intervalMs };
}

/** Checks a rate read from configuration: positive and finite, a burst of at least one whole request. */
export function validRate(rate: Rate): boolean {
  return Number.isFinite(rate.perSecond) && rate.perSecond > 0 && Number.isInteger(rate.burst) && rate.burst >= 1;
}
