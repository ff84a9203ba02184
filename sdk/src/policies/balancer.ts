/**
 * Load balancing over the endpoints of one downstream: round robin, or the
 * endpoint with the fewest calls in flight; either way an endpoint whose
 * breaker does not let a call through is skipped.
 */
import type { Transport } from "@connectrpc/connect";
import type { CircuitBreaker } from "./breaker.js";
import type { BalancerKind } from "./policy.js";

/** One endpoint of a downstream: where it is, how to reach it, its breaker and its load. */
export interface BalancedEndpoint {
  readonly url: string;
  readonly transport: Transport;
  /** Undefined when breakers are off. */
  readonly breaker: CircuitBreaker | undefined;
  /** Calls sent to it that have not ended. */
  outstanding: number;
}

/** Picks endpoints for calls. */
export class Balancer {
  private next = 0;

  constructor(
    readonly kind: BalancerKind,
    readonly endpoints: ReadonlyArray<BalancedEndpoint>,
  ) {}

  /** The endpoint for the next call, its breaker acquired; undefined when every breaker refuses. */
  pick(nowMs: number): BalancedEndpoint | undefined {
    return this.kind === "round_robin" ? this.roundRobin(nowMs) : this.leastOutstanding(nowMs);
  }

  private roundRobin(nowMs: number): BalancedEndpoint | undefined {
    const n = this.endpoints.length;
    for (let i = 0; i < n; i++) {
      const endpoint = this.endpoints[(this.next + i) % n]!;
      if (endpoint.breaker === undefined || endpoint.breaker.tryAcquire(nowMs)) {
        this.next = (this.next + i + 1) % n;
        return endpoint;
      }
    }
    return undefined;
  }

  private leastOutstanding(nowMs: number): BalancedEndpoint | undefined {
    let best: BalancedEndpoint | undefined;
    // Ties go round robin, so an idle downstream still spreads its calls.
    const n = this.endpoints.length;
    for (let i = 0; i < n; i++) {
      const endpoint = this.endpoints[(this.next + i) % n]!;
      if (best !== undefined && endpoint.outstanding >= best.outstanding) continue;
      if (endpoint.breaker === undefined || endpoint.breaker.permits(nowMs)) best = endpoint;
    }
    if (best === undefined || (best.breaker !== undefined && !best.breaker.tryAcquire(nowMs))) return undefined;
    this.next = (this.endpoints.indexOf(best) + 1) % n;
    return best;
  }
}
