/**
 * The circuit breaker of one endpoint: closed → open after N failures in a
 * row or a failure rate over a rolling window; open → half-open after a pause,
 * letting a few probes through; a probe's success closes it, a failure opens it
 * again. Time is passed in (the caller reads Effect's Clock), so tests drive it.
 */
import type { Code } from "@connectrpc/connect";
import type { BreakerPolicy } from "./policy.js";

/** Where a breaker stands. */
export type BreakerState = "closed" | "open" | "half_open";

/** Buckets of the rolling window; the window slides one bucket at a time. */
const bucketCount = 10;

/** One endpoint's breaker. */
export class CircuitBreaker {
  private current: BreakerState = "closed";
  private openedAt = 0;
  private consecutive = 0;
  private probes = 0;
  private readonly bucketMs: number;
  private readonly failures = new Array<number>(bucketCount).fill(0);
  private readonly totals = new Array<number>(bucketCount).fill(0);
  private bucketEpoch = 0;

  constructor(
    readonly policy: BreakerPolicy,
    private readonly onTransition: (to: BreakerState, from: BreakerState) => void = () => {},
  ) {
    this.bucketMs = Math.max(1, policy.windowMs / bucketCount);
  }

  /** Where it stands: an open breaker whose pause is over reads open until a probe goes. */
  get state(): BreakerState {
    return this.current;
  }

  /** True when a call may go at `nowMs`, without taking a probe slot. */
  permits(nowMs: number): boolean {
    if (this.current === "closed") return true;
    if (this.current === "open" && nowMs - this.openedAt < this.policy.openMs) return false;
    return this.probes < this.policy.halfOpenProbes;
  }

  /** Takes the right to send one call; while half-open, one of the probe slots. */
  tryAcquire(nowMs: number): boolean {
    if (this.current === "closed") return true;
    if (!this.permits(nowMs)) return false;
    if (this.current === "open") this.moveTo("half_open");
    this.probes++;
    return true;
  }

  /** Records how an acquired call ended: a code in `failureCodes` is a failure, anything else an answer. */
  record(nowMs: number, code: Code | undefined): void {
    if (code !== undefined && this.policy.failureCodes.includes(code)) this.onFailure(nowMs);
    else this.onSuccess(nowMs);
  }

  /** Gives back an acquired call that ended without a verdict (cancelled by the caller). */
  release(): void {
    if (this.current === "half_open" && this.probes > 0) this.probes--;
  }

  private onSuccess(nowMs: number): void {
    this.consecutive = 0;
    if (this.current === "half_open") {
      this.probes--;
      this.close();
      return;
    }
    this.count(nowMs, false);
  }

  private onFailure(nowMs: number): void {
    if (this.current === "half_open") {
      this.probes--;
      this.open(nowMs);
      return;
    }
    if (this.current === "open") return; // a call sent before it opened
    this.consecutive++;
    this.count(nowMs, true);
    if (this.consecutive >= this.policy.consecutiveFailures || this.rateTripped()) this.open(nowMs);
  }

  private count(nowMs: number, failed: boolean): void {
    const epoch = Math.floor(nowMs / this.bucketMs);
    const stale = Math.min(bucketCount, epoch - this.bucketEpoch);
    for (let i = 1; i <= stale; i++) {
      const at = (this.bucketEpoch + i) % bucketCount;
      this.failures[at] = 0;
      this.totals[at] = 0;
    }
    if (epoch > this.bucketEpoch) this.bucketEpoch = epoch;
    const at = this.bucketEpoch % bucketCount;
    this.totals[at]!++;
    if (failed) this.failures[at]!++;
  }

  private rateTripped(): boolean {
    let total = 0;
    let failed = 0;
    for (let i = 0; i < bucketCount; i++) {
      total += this.totals[i]!;
      failed += this.failures[i]!;
    }
    return total >= this.policy.minimumCalls && failed / total >= this.policy.failureRate;
  }

  private open(nowMs: number): void {
    this.openedAt = nowMs;
    this.probes = 0;
    this.moveTo("open");
  }

  private close(): void {
    this.consecutive = 0;
    this.probes = 0;
    this.failures.fill(0);
    this.totals.fill(0);
    this.moveTo("closed");
  }

  private moveTo(state: BreakerState): void {
    const from = this.current;
    if (from === state) return;
    this.current = state;
    this.onTransition(state, from);
  }
}
