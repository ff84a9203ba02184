/**
 * Calls gathered into batches: a batch starts one turn of the event loop after a call arrives
 * (calls made in that turn join it) whenever fewer than `maxInFlight` batches run; calls that
 * arrive while they all run wait, and go together in the next. An idle caller pays one turn; a
 * busy service makes fewer, bigger round trips (for a database: one statement, or one commit, for
 * many changes). Used by trading's placements (many in one statement) and the kit's group commit
 * (many units in one transaction).
 */
export interface BatcherOptions<I, O> {
  /** Runs one batch: resolves with one outcome per item, in the items' order. */
  readonly run: (items: ReadonlyArray<I>) => Promise<ReadonlyArray<O>>;
  /** The most items in one batch. */
  readonly maxBatch: number;
  /** The most batches running at once; later calls wait for one to end. */
  readonly maxInFlight: number;
  /**
   * Items with the same key never run at once: a later one waits until the batch holding its key
   * has ended, then goes in the next (in call order). Items of other keys go on meanwhile.
   */
  readonly keyOf?: (item: I) => string;
}

/** Submits items; each resolves with its outcome (or rejects with its batch's error). */
export interface Batcher<I, O> {
  readonly submit: (item: I) => Promise<O>;
  /** Resolves once no item waits and no batch runs. */
  readonly drained: () => Promise<void>;
}

interface Waiting<I, O> {
  readonly item: I;
  readonly resolve: (outcome: O) => void;
  readonly reject: (error: unknown) => void;
}

export function makeBatcher<I, O>(options: BatcherOptions<I, O>): Batcher<I, O> {
  const { run, maxBatch, maxInFlight, keyOf } = options;
  if (!(maxBatch >= 1 && maxInFlight >= 1)) throw new RangeError(`makeBatcher: maxBatch and maxInFlight must be at least 1, got ${maxBatch} and ${maxInFlight}`);
  let queue: Array<Waiting<I, O>> = [];
  let inFlight = 0;
  let scheduled = false;
  let onDrained: Array<() => void> = [];
  /** The keys of the running batches' items. */
  const runningKeys = new Set<string>();

  // The next batch: the oldest calls, skipping (for later) any whose key is already in it or in a
  // running batch. Empty when every waiting call's key is running.
  const take = (): Array<Waiting<I, O>> => {
    if (keyOf === undefined) return queue.splice(0, maxBatch);
    const batch: Array<Waiting<I, O>> = [];
    const rest: Array<Waiting<I, O>> = [];
    const keys = new Set<string>();
    for (const waiting of queue) {
      const key = keyOf(waiting.item);
      if (batch.length < maxBatch && !keys.has(key) && !runningKeys.has(key)) {
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

  const start = (batch: ReadonlyArray<Waiting<I, O>>) => {
    inFlight += 1;
    const keys = keyOf === undefined ? [] : batch.map((w) => keyOf(w.item));
    for (const key of keys) runningKeys.add(key);
    let running: Promise<ReadonlyArray<O>>;
    try {
      running = run(batch.map((w) => w.item));
    } catch (error) {
      running = Promise.reject(error);
    }
    void running
      .then(
        (outcomes) => settle(batch, outcomes),
        (error: unknown) => {
          for (const waiting of batch) waiting.reject(error);
        },
      )
      .finally(() => {
        inFlight -= 1;
        for (const key of keys) runningKeys.delete(key);
        // The next batch a turn later: the callers just answered can queue their next calls.
        schedule();
        if (inFlight === 0 && queue.length === 0) for (const done of onDrained.splice(0)) done();
      });
  };

  const pump = () => {
    scheduled = false;
    while (inFlight < maxInFlight && queue.length > 0) {
      const batch = take();
      if (batch.length === 0) return; // every waiting key is running: the end of its batch schedules the next
      start(batch);
    }
  };

  const schedule = () => {
    if (scheduled || inFlight >= maxInFlight || queue.length === 0) return;
    scheduled = true;
    setImmediate(pump);
  };

  return {
    submit: (item) =>
      new Promise<O>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        schedule();
      }),
    drained: () =>
      inFlight === 0 && queue.length === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            onDrained.push(resolve);
          }),
  };
}
