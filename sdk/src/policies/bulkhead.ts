/**
 * The bulkhead of one downstream: at most `maxConcurrent` calls in flight (an
 * Effect Semaphore), then at most `maxQueue` waiting; the next one fails fast
 * with BulkheadFull, so a slow downstream cannot take every fiber of the caller.
 */
import type { ConnectError } from "@connectrpc/connect";
import { Effect, Semaphore } from "effect";
import type { BulkheadPolicy } from "./policy.js";
import { bulkheadFull, deadlineExceeded } from "./refusals.js";

/** A downstream's bulkhead. */
export class Bulkhead {
  private readonly semaphore: Semaphore.Semaphore;
  private running = 0;
  private waiting = 0;

  constructor(
    readonly downstream: string,
    readonly policy: BulkheadPolicy,
  ) {
    this.semaphore = Semaphore.makeUnsafe(policy.maxConcurrent);
  }

  /** Calls holding a permit now. */
  get active(): number {
    return this.running;
  }

  /** Calls waiting for a permit now. */
  get queued(): number {
    return this.waiting;
  }

  /**
   * Runs `effect` under a permit. When all are taken it waits in the queue, at
   * most `maxWaitMs()` (then DeadlineExceeded); when the queue is full it fails at once with BulkheadFull.
   */
  run<A, E, R>(effect: Effect.Effect<A, E, R>, maxWaitMs: () => number): Effect.Effect<A, E | ConnectError, R> {
    return Effect.suspend(() => {
      if (this.running < this.policy.maxConcurrent && this.waiting === 0) {
        // A free permit and nobody ahead: withPermit takes it at once.
        this.running++;
        return this.semaphore.withPermit(Effect.ensuring(effect, this.leave));
      }
      if (this.waiting >= this.policy.maxQueue) return Effect.fail(bulkheadFull(this.downstream));
      const waitMs = maxWaitMs();
      if (waitMs <= 0) return Effect.fail(deadlineExceeded(0));
      this.waiting++;
      let queued = true;
      const leaveQueue = () => {
        if (queued) {
          queued = false;
          this.waiting--;
        }
      };
      const admitted = Effect.suspend(() => {
        leaveQueue();
        this.running++;
        return Effect.ensuring(effect, this.leave);
      });
      return this.semaphore.withPermit(admitted).pipe(
        Effect.timeoutOrElse({
          duration: waitMs,
          // The wait and the run together stay within what is left of the call's deadline.
          orElse: () => Effect.fail(deadlineExceeded(waitMs)),
        }),
        Effect.ensuring(Effect.sync(leaveQueue)),
      );
    });
  }

  private readonly leave = Effect.sync(() => {
    this.running--;
  });
}
