/**
 * Client resilience, browser-safe: deadline, retry with budget, circuit
 * breaker, bulkhead and load balancing around any Connect transport.
 */
export { Balancer, type BalancedEndpoint } from "./balancer.js";
export { CircuitBreaker, type BreakerState } from "./breaker.js";
export { Bulkhead } from "./bulkhead.js";
export type { BreakerTransition, CallEnded, ClientHooks, RetryScheduled } from "./hooks.js";
export {
  defaultPolicy,
  methodPolicy,
  resolvePolicy,
  type BalancerKind,
  type BreakerPolicy,
  type BulkheadPolicy,
  type ClientPolicy,
  type MethodPolicy,
  type MethodPolicyOptions,
  type PolicyOptions,
  type RetryBudgetPolicy,
  type RetryPolicy,
} from "./policy.js";
export { bulkheadFull, circuitOpen, clientDomain, deadlineExceeded, isPolicyRefusal, retriesExhausted } from "./refusals.js";
export {
  createResilientTransport,
  isResilientTransport,
  type Endpoint,
  type ResilienceState,
  type ResilientTransport,
  type ResilientTransportOptions,
} from "./resilient-transport.js";
export { idempotencyKeyHeader, isRetryable, maySendTwice, retryAfterMsOf, retrySchedule, RetryBudget } from "./retry.js";
