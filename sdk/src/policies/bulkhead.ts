/**
 * The bulkhead of one downstream: a counting semaphore of `maxConcurrent`
 * slots with a bounded FIFO queue of `maxQueue` waiters; the next one fails
 * fast with BulkheadFull, so a slow downstream cannot take every fiber of the
 * caller. Written out rather than on Effect's Semaphore, whose queue has no
 * bound, so that a free slot is taken synchronously (the Promise face's fast path).
 */
import type { ConnectError } from "@connectrpc/connect";
import { Effect } from "effect";
import type { BulkheadPolicy } from "./policy.js";
import { bulkheadFull, deadlineExceeded } from "./refusals.js";

/** A downstream's bulkhead. */
export class Bulkhead {
  private running = 0;
  /** Wake-ups of the waiting calls, oldest first; waking one hands it a slot. */
  private readonly waiters: Array<() => void> = [];

  constructor(
    readonly downstream: string,
    readonly policy: BulkheadPolicy,
  ) {}

  /** Calls holding a slot now. */
  get active(): number {
    return this.running;
  }

  /** Calls waiting for a slot now. */
  get queued(): number {
    return this.waiters.length;
  }

  /** Takes a slot if one is free and nobody waits ahead; whoever gets true must {@link leave}. */
  tryEnter(): boolean {
    if (this.running >= this.policy.maxConcurrent || this.waiters.length > 0) return false;
    this.running++;
    return true;
  }

  /** Gives a slot back: the longest waiter gets it, or it becomes free. */
  leave(): void {
    const next = this.waiters.shift();
    if (next === undefined) this.running--;
    else next();
  }

  /**
   * Runs `effect` holding a slot. When none is free it waits in the queue, at
   * most `maxWaitMs()` (then DeadlineExceeded); when the queue is full it fails at once with BulkheadFull.
   */
  run<A, E, R>(effect: Effect.Effect<A, E, R>, maxWaitMs: () => number): Effect.Effect<A, E | ConnectError, R> {
    return Effect.suspend(() => {
      if (this.tryEnter()) return Effect.ensuring(effect, this.release);
      // Between being handed a slot and holding it under `ensuring`, an interruption must not leak it.
      return Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(restore(this.queue(maxWaitMs)), () => Effect.ensuring(restore(effect), this.release)),
      );
    });
  }

  /**
   * Takes a slot for as long as the caller needs it (a stream's life), waiting
   * in the queue as {@link run} does; whoever it succeeds for must {@link leave}.
   */
  enter(maxWaitMs: () => number): Effect.Effect<void, ConnectError> {
    return Effect.suspend(() => (this.tryEnter() ? Effect.void : this.queue(maxWaitMs)));
  }

  /** No slot was free: a place in the queue if there is one, until a slot is handed over or the wait is over. */
  private queue(maxWaitMs: () => number): Effect.Effect<void, ConnectError> {
    if (this.waiters.length >= this.policy.maxQueue) return Effect.fail(bulkheadFull(this.downstream));
    const waitMs = maxWaitMs();
    if (waitMs <= 0) return Effect.fail(deadlineExceeded(0));
    return this.waitForSlot(waitMs);
  }

  private readonly release = Effect.sync(() => this.leave());

  /** Waits in the queue until handed a slot, or gives up (leaving the queue) after `waitMs` or when interrupted. */
  private waitForSlot(waitMs: number): Effect.Effect<void, ConnectError> {
    const wait = Effect.callback<void>((resume) => {
      const wake = () => resume(Effect.void);
      this.waiters.push(wake);
      return Effect.sync(() => {
        const at = this.waiters.indexOf(wake);
        if (at >= 0) this.waiters.splice(at, 1);
      });
    });
    // A queued call waits at most what is left of its deadline (a stream with none, until a slot is free).
    if (!Number.isFinite(waitMs)) return wait;
    return Effect.timeoutOrElse(wait, { duration: waitMs, orElse: () => Effect.fail(deadlineExceeded(waitMs)) });
  }
}
