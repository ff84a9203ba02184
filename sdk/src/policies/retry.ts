/**
 * Retry: which calls may be sent again, when, and how often. The schedule is
 * an Effect `Schedule` (exponential backoff with full jitter, at least the
 * server's retry-after hint); the budget caps retries at a share of calls.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";
import { Duration, Effect, Random, Schedule } from "effect";
import { RateLimitedSchema } from "../gen/meridian/common/v1/errors_pb.js";
import type { RetryBudgetPolicy, RetryPolicy } from "./policy.js";
import { isPolicyRefusal } from "./refusals.js";

/** The header that makes any call safe to retry: the server applies a key once. */
export const idempotencyKeyHeader = "idempotency-key";

/** True when a call may be sent twice: its method is NO_SIDE_EFFECTS or IDEMPOTENT, or it carries an idempotency key. */
export function maySendTwice(method: DescMethod, header: HeadersInit | undefined): boolean {
  return (
    method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS ||
    method.idempotency === MethodOptions_IdempotencyLevel.IDEMPOTENT ||
    (header !== undefined && new Headers(header).has(idempotencyKeyHeader))
  );
}

/** True for a failure another attempt may cure: a retryable code, and not a policy's refusal. */
export function isRetryable(error: ConnectError, retry: RetryPolicy): boolean {
  return retry.retryableCodes.includes(error.code) && !isPolicyRefusal(error);
}

/**
 * The server's hint of when to come back, in ms from `nowMs`: a RateLimited
 * detail's retry_after_ms, else a `retry-after` header (seconds or an HTTP date).
 */
export function retryAfterMsOf(error: ConnectError, nowMs: number): number | undefined {
  if (error.details.length > 0) {
    const [limited] = error.findDetails(RateLimitedSchema);
    if (limited !== undefined && limited.retryAfterMs > 0n) return Number(limited.retryAfterMs);
  }
  const header = error.metadata.get("retry-after");
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/**
 * The retry schedule of one call: before the n-th retry it waits a full-jitter
 * backoff, uniform in [0, min(maxDelay, base·factorⁿ⁻¹)), or the server's hint
 * if longer, and it recurs while `allow(error, delayMs, retryNumber)` says so.
 */
export function retrySchedule(
  retry: RetryPolicy,
  allow: (error: ConnectError, delayMs: number, retryNumber: number) => boolean,
): Schedule.Schedule<Duration.Duration, ConnectError> {
  return Schedule.exponential(retry.baseDelayMs, retry.factor).pipe(
    Schedule.setInputType<ConnectError>(),
    Schedule.modifyDelay(({ duration, input, now }) =>
      Effect.map(Random.next, (random) => {
        const backoff = random * Math.min(retry.maxDelayMs, Duration.toMillis(duration));
        return Duration.millis(Math.max(backoff, retryAfterMsOf(input, now) ?? 0));
      }),
    ),
    Schedule.while(({ input, duration, attempt }) =>
      attempt < retry.maxAttempts && allow(input, Duration.toMillis(duration), attempt),
    ),
  );
}

/**
 * The retry budget of a downstream: every call earns `ratio` of a token (up
 * to `reserve`), every retry spends one, so retries stay near `ratio` of the calls.
 */
export class RetryBudget {
  private tokens: number;
  private refusals = 0;
  constructor(private readonly policy: RetryBudgetPolicy) {
    this.tokens = policy.reserve;
  }
  /** Counts a call (its first attempt). */
  earn(): void {
    this.tokens = Math.min(this.policy.reserve, this.tokens + this.policy.ratio);
  }
  /** Spends a token for a retry; false when none is left. */
  trySpend(): boolean {
    if (this.tokens < 1) {
      this.refusals++;
      return false;
    }
    this.tokens -= 1;
    return true;
  }
  /** Tokens left (for metrics). */
  get balance(): number {
    return this.tokens;
  }
  /** Retries refused for want of a token, since the start (for metrics). */
  get refused(): number {
    return this.refusals;
  }
}
