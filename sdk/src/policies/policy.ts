/**
 * What a client's resilience policies are, their safe defaults, and how a
 * partial policy (from code or configuration) and per-method overrides resolve.
 */
import { Code } from "@connectrpc/connect";

/** Retry: exponential backoff with full jitter, on transient codes, for calls safe to send twice. */
export interface RetryPolicy {
  /** Attempts in all, the first included; 1 turns retries off. */
  readonly maxAttempts: number;
  /** The backoff ceiling of the first retry; each later one multiplies it by `factor`. */
  readonly baseDelayMs: number;
  readonly factor: number;
  /** No backoff ceiling grows past this (a server's retry-after hint may ask for longer). */
  readonly maxDelayMs: number;
  /** Codes worth another attempt. */
  readonly retryableCodes: ReadonlyArray<Code>;
}

/** The retry budget of a downstream: retries may add at most `ratio` extra calls, after a small reserve. */
export interface RetryBudgetPolicy {
  /** Tokens each call earns; a retry spends one (0.2: at most ~20% extra load). */
  readonly ratio: number;
  /** Tokens the budget starts with and can hold, so a quiet client may still retry a burst. */
  readonly reserve: number;
}

/** The circuit breaker of one endpoint. */
export interface BreakerPolicy {
  /** Opens after this many failures in a row. */
  readonly consecutiveFailures: number;
  /** Or when at least this share of the calls in the window failed (0..1)… */
  readonly failureRate: number;
  /** …over a rolling window this long… */
  readonly windowMs: number;
  /** …holding at least this many calls. */
  readonly minimumCalls: number;
  /** How long it stays open before letting probes through (half-open). */
  readonly openMs: number;
  /** Calls let through at once while half-open; a success closes it, a failure opens it again. */
  readonly halfOpenProbes: number;
  /** Codes that count as the endpoint failing (a domain error is an answer, not a failure). */
  readonly failureCodes: ReadonlyArray<Code>;
}

/** The bulkhead of one downstream: calls in flight, then a bounded queue. */
export interface BulkheadPolicy {
  readonly maxConcurrent: number;
  readonly maxQueue: number;
}

/** How a call picks one of several endpoints; both skip endpoints whose breaker is open. */
export type BalancerKind = "round_robin" | "least_outstanding";

/** What may differ per method. */
export interface MethodPolicy {
  /** The deadline of a call that sets none (sent downstream as connect-timeout-ms/grpc-timeout). */
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
}

/** A client's policies: per method (timeout, retry), per endpoint (breaker), per downstream (bulkhead, budget). */
export interface ClientPolicy extends MethodPolicy {
  readonly retryBudget: RetryBudgetPolicy;
  readonly breaker: BreakerPolicy | false;
  readonly bulkhead: BulkheadPolicy | false;
  readonly balancer: BalancerKind;
  /** Overrides by method local name (e.g. `getSecurity`). */
  readonly methods: Readonly<Record<string, MethodPolicy>>;
}

/** A method's overrides, as given. */
export interface MethodPolicyOptions {
  readonly timeoutMs?: number;
  /** `false` turns retries off for the method. */
  readonly retry?: Partial<RetryPolicy> | false;
}

/** A policy as given in code or read from configuration: anything left out keeps its default. */
export interface PolicyOptions extends MethodPolicyOptions {
  readonly retryBudget?: Partial<RetryBudgetPolicy>;
  readonly breaker?: Partial<BreakerPolicy> | false;
  readonly bulkhead?: Partial<BulkheadPolicy> | false;
  readonly balancer?: BalancerKind;
  readonly methods?: Readonly<Record<string, MethodPolicyOptions>>;
}

/** The defaults: 5 s deadline; 3 attempts, 50 ms × 2ⁿ up to 2 s, full jitter; 20% retry budget. */
export const defaultPolicy: ClientPolicy = {
  timeoutMs: 5_000,
  retry: {
    maxAttempts: 3,
    baseDelayMs: 50,
    factor: 2,
    maxDelayMs: 2_000,
    retryableCodes: [Code.Unavailable, Code.ResourceExhausted, Code.Aborted],
  },
  retryBudget: { ratio: 0.2, reserve: 10 },
  breaker: {
    consecutiveFailures: 5,
    failureRate: 0.5,
    windowMs: 10_000,
    minimumCalls: 20,
    openMs: 5_000,
    halfOpenProbes: 1,
    failureCodes: [Code.Unavailable, Code.DeadlineExceeded, Code.Unknown, Code.Internal],
  },
  bulkhead: { maxConcurrent: 64, maxQueue: 256 },
  balancer: "round_robin",
  methods: {},
};

/** Fills what `options` leaves out from `base` (default: {@link defaultPolicy}); `false` turns a policy off. */
export function resolvePolicy(options: PolicyOptions = {}, base: ClientPolicy = defaultPolicy): ClientPolicy {
  const methodBase = resolveMethod(options, base);
  const methods: Record<string, MethodPolicy> = {};
  for (const [name, method] of Object.entries(base.methods)) methods[name] = method;
  for (const [name, method] of Object.entries(options.methods ?? {})) {
    methods[name] = resolveMethod(method, methods[name] ?? methodBase);
  }
  return {
    ...methodBase,
    retryBudget: { ...base.retryBudget, ...options.retryBudget },
    breaker: merge(base.breaker, options.breaker, defaultBreaker),
    bulkhead: merge(base.bulkhead, options.bulkhead, defaultBulkhead),
    balancer: options.balancer ?? base.balancer,
    methods,
  };
}

/** The timeout and retry of one method (by local name): its override, else the client's. */
export function methodPolicy(policy: ClientPolicy, localName: string): MethodPolicy {
  return policy.methods[localName] ?? policy;
}

const defaultBreaker = defaultPolicy.breaker as BreakerPolicy;
const defaultBulkhead = defaultPolicy.bulkhead as BulkheadPolicy;

/** `false` turns a policy off, settings turn it on (over the defaults if it was off), nothing keeps it as it was. */
function merge<P extends object>(base: P | false, options: Partial<P> | false | undefined, defaults: P): P | false {
  if (options === false) return false;
  if (options === undefined) return base;
  return { ...(base === false ? defaults : base), ...options };
}

function resolveMethod(options: MethodPolicyOptions, base: MethodPolicy): MethodPolicy {
  return {
    timeoutMs: options.timeoutMs ?? base.timeoutMs,
    retry: options.retry === false ? { ...base.retry, maxAttempts: 1 } : { ...base.retry, ...options.retry },
  };
}
