/**
 * Calls gathered into batches while earlier batches run: the first call runs at once (alone,
 * when nothing else is waiting), and calls that arrive while `maxInFlight` batches are running
 * wait and go together in the next one. An idle service answers as fast as without it; a busy
 * one makes fewer, bigger round trips (for a database: one statement and one commit for many
 * changes, where each had its own).
 */
export interface BatcherOptions<I, O> {
  /** Runs one batch: resolves with one outcome per item, in the items' order. */
  readonly run: (items: ReadonlyArray<I>) => Promise<ReadonlyArray<O>>;
  /** The most items in one batch. */
  readonly maxBatch: number;
  /** The most batches running at once; later calls wait for one to end. */
  readonly maxInFlight: number;
  /** Items with the same key never share a batch: a later one waits for the next (in call order). */
  readonly keyOf?: (item: I) => string;
}

interface Waiting<I, O> {
  readonly item: I;
  readonly resolve: (outcome: O) => void;
  readonly reject: (error: unknown) => void;
}

/** A function that runs `item` in a batch and resolves with its outcome (rejects with the batch's error). */
export function makeBatcher<I, O>(options: BatcherOptions<I, O>): (item: I) => Promise<O> {
  const { run, maxBatch, maxInFlight, keyOf } = options;
  if (!(maxBatch >= 1 && maxInFlight >= 1)) throw new RangeError(`makeBatcher: maxBatch and maxInFlight must be at least 1, got ${maxBatch} and ${maxInFlight}`);
  let queue: Array<Waiting<I, O>> = [];
  let inFlight = 0;
  let scheduled = false;

  // The next batch: the oldest calls, skipping (for later) any whose key is already in it.
  const take = (): Array<Waiting<I, O>> => {
    if (keyOf === undefined || queue.length === 0) return queue.splice(0, maxBatch);
    const batch: Array<Waiting<I, O>> = [];
    const rest: Array<Waiting<I, O>> = [];
    const keys = new Set<string>();
    for (const waiting of queue) {
      const key = keyOf(waiting.item);
      if (batch.length < maxBatch && !keys.has(key)) {
        keys.add(key);
        batch.push(waiting);
      } else rest.push(waiting);
    }
    queue = rest;
    return batch;
  };

  const settle = (batch: ReadonlyArray<Waiting<I, O>>, outcomes: ReadonlyArray<O>) => {
    if (outcomes.length !== batch.length) {
      const error = new Error(`batch of ${batch.length} answered ${outcomes.length} outcomes`);
      for (const waiting of batch) waiting.reject(error);
      return;
    }
    batch.forEach((waiting, i) => waiting.resolve(outcomes[i]!));
  };

  const pump = () => {
    scheduled = false;
    while (inFlight < maxInFlight && queue.length > 0) {
      const batch = take();
      inFlight += 1;
      let started: Promise<ReadonlyArray<O>>;
      try {
        started = run(batch.map((w) => w.item));
      } catch (error) {
        started = Promise.reject(error);
      }
      started.then(
        (outcomes) => settle(batch, outcomes),
        (error: unknown) => {
          for (const waiting of batch) waiting.reject(error);
        },
      ).finally(() => {
        inFlight -= 1;
        pump();
      });
    }
  };

  return (item) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      // Calls made in the same turn go out together.
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(pump);
      }
    });
}
