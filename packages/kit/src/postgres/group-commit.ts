/**
 * Group commit: the units of work of concurrent callers, each `(tx) => Effect` (a state change and
 * its outbox rows), run one after the other in ONE shared PostgreSQL transaction that commits once;
 * only then does each caller's Effect complete. A commit costs PostgreSQL about as much as the rest
 * of a one-row transaction: shared by the units of a batch, it is paid once per batch.
 *
 * No timers (the kit's `makeBatcher`): a lane (one `sql.begin` at a time) takes whatever queued
 * while its previous batch ran, up to `maxBatch`, one turn of the event loop after that batch ended
 * (so that the callers it just completed can queue their next units); an idle lane starts one turn
 * after a unit arrives (units submitted in the same turn join it). `lanes` batches run at the same
 * time, each on a connection of the pool. Defaults (4 lanes, batches of up to 8) from bench/events/results.md (2026-11-25 18:03):
 * with 32 producers, 1 lane × 32 or 2 × 32 leave the units of a batch waiting on each other's round
 * trips; 4 × 8 was fastest end to end.
 */
import { Cause, Context, Effect, Exit, Layer } from "effect";
import type postgres from "postgres";
import { makeBatcher, type Batcher } from "../batch/batcher.js";
import { Unavailable } from "../errors.js";
import { metrics } from "../telemetry/metrics.js";
import { poolNameOf, poolUsage } from "./metrics.js";
import { isConnectionFailure } from "./query.js";
import { Sql } from "./sql.js";

/** A unit of work: its statements on `tx`, awaited in order. It may run more than once (see below). */
export type Unit<A, E, R> = (tx: postgres.TransactionSql) => Effect.Effect<A, E, R>;

/** How units are grouped and kept apart. */
export interface GroupCommitOptions {
  /** Batches in flight at once, each holding a connection of the pool (default 4). */
  readonly lanes?: number;
  /**
   * Units per batch at most (default 8). A batch's units run one after the other, a round trip
   * each at least, so a big batch is a long transaction; with savepoints keep it ≤ 64 (PostgreSQL's
   * per-backend subtransaction cache).
   */
  readonly maxBatch?: number;
  /**
   * How a failing unit is kept from failing the others (default "rerun"):
   * - rerun: units run bare in the shared transaction; when one fails, the transaction rolls
   *   back and the others run again in a new one (nothing of them had committed). No cost while
   *   nothing fails; a failure costs the batch a second run (after 3 tries in a batch, the rest
   *   run alone).
   * - savepoint: each unit in a savepoint of its own (postgres.js `savepoint`: one more round
   *   trip per unit, awaited), rolled back to if it fails; the others are not run again.
   *   Measured (events bench, producers alone, 1 event per unit, 4 × 8): 9,877 units/s against
   *   14,286 for rerun; CPU per 1000 units Bun 86 + PostgreSQL 59 ms against 57 + 42.
   */
  readonly isolation?: "rerun" | "savepoint";
}

/** What callers use. */
export interface GroupCommitShape {
  /**
   * Runs `unit` in a shared transaction and succeeds with its value once that transaction has
   * committed: the unit's changes are then durable, and visible to others only from then on.
   *
   * - The unit's own failure (typed error or defect, a statement's error included) is its
   *   result; its changes are undone and the other units of the batch are not affected.
   * - A unit must await its statements and do nothing outside the database it cannot repeat: like
   *   any retried transaction it may run again (another unit of its batch failed, or it lost a
   *   deadlock to another batch); only the run that commits counts.
   * - Statements of the units of one batch run one after the other, so a unit sees the changes of
   *   the units before it (read-then-write on one row stays correct within a batch). Across
   *   batches (lanes > 1) the usual rules of concurrent transactions hold: lock what you read to
   *   write (`for update`). A unit that fails with a deadlock or serialization failure (40P01,
   *   40001), which other batches' locks can cause, runs again alone in its own transaction after
   *   its batch, and that result is final.
   * - The connection lost (or COMMIT failing) fails every unit of the batch with `Unavailable`;
   *   nothing of the batch is half applied. Lost during COMMIT, the outcome is unknown (as for any
   *   transaction): the reason says so.
   * - Interrupted while its unit waits in the queue, the unit is dropped; once its batch started,
   *   the caller waits for the batch to end (commit or rollback) before it is interrupted.
   */
  readonly run: <A, E, R>(unit: Unit<A, E, R>) => Effect.Effect<A, E | Unavailable, R>;
}

/** The group commit of this service's pool. */
export class GroupCommit extends Context.Service<GroupCommit, GroupCommitShape>()("@meridian/kit/GroupCommit") {}

/** Provides group commit on the service's pool; at release, queued and running units finish first. */
export const layerGroupCommit = (options: GroupCommitOptions = {}): Layer.Layer<GroupCommit, never, Sql> =>
  Layer.effect(
    GroupCommit,
    Effect.flatMap(Effect.service(Sql), (sql) =>
      Effect.acquireRelease(
        Effect.sync(() => new SharedTransactions(sql, options)),
        (transactions) => Effect.promise(() => transactions.close()),
      ).pipe(Effect.map((transactions): GroupCommitShape => ({ run: (unit) => transactions.run(unit) }))),
    ),
  );

const batchSizes = metrics.histogram("postgres_group_commit_batch_size", "Units committed per shared transaction, by pool.", ["pool"], [1, 2, 4, 8, 16, 32, 64, 128]);
const fallbacks = metrics.counter(
  "postgres_group_commit_reruns_total",
  "Units run again: in a new shared transaction after another unit failed (rerun), or alone (alone).",
  ["pool", "kind"],
);

const queued = 0;
const started = 1;
const dropped = 2;

interface Entry {
  state: typeof queued | typeof started | typeof dropped;
  /** Runs the unit on `tx` in its caller's context. */
  readonly attempt: (tx: postgres.TransactionSql) => Promise<Exit.Exit<unknown, unknown>>;
  /** Completes the caller's Effect. */
  readonly settle: (exit: Exit.Exit<unknown, unknown>) => void;
  /** Set when the caller was interrupted after its unit started: told when the batch ended. */
  ended?: () => void;
}

// How one shared transaction ended.
type Attempt =
  | { readonly kind: "committed"; readonly exits: ReadonlyArray<Exit.Exit<unknown, unknown>> }
  | { readonly kind: "unit-failed"; readonly index: number; readonly exit: Exit.Exit<unknown, unknown> }
  | { readonly kind: "lost"; readonly committing: boolean }
  | { readonly kind: "failed"; readonly cause: unknown };

// Thrown out of `sql.begin` to roll back after a unit failed (rerun), or out of a savepoint.
class UnitFailed {
  constructor(
    readonly index: number,
    readonly exit: Exit.Exit<unknown, unknown>,
  ) {}
}

// SQLSTATEs a unit may hit because of other batches' locks: worth one more run, alone.
const retryableCodes = new Set(["40P01", "40001"]);

// Batches of one pool: the shared transactions of the batches `makeBatcher` forms.
class SharedTransactions {
  private closing = false;
  private readonly batches: Batcher<Entry, void>;
  private readonly isolation: "rerun" | "savepoint";
  private readonly sizes;
  private readonly reruns;
  private readonly alone;

  constructor(
    private readonly sql: postgres.Sql,
    options: GroupCommitOptions,
  ) {
    this.isolation = options.isolation ?? "rerun";
    const pool = poolNameOf(sql.options);
    this.sizes = batchSizes.bind({ pool });
    this.reruns = fallbacks.bind({ pool, kind: "rerun" });
    this.alone = fallbacks.bind({ pool, kind: "alone" });
    this.batches = makeBatcher<Entry, void>({
      maxInFlight: Math.max(1, options.lanes ?? 4),
      maxBatch: Math.max(1, options.maxBatch ?? 8),
      run: async (entries) => {
        // Units whose caller was interrupted while they waited are dropped; the others start.
        const live = entries.filter((entry) => entry.state === queued);
        for (const entry of live) entry.state = started;
        try {
          if (live.length > 0) await this.runBatch(live);
        } catch (cause) {
          // Not expected (runBatch settles every unit): no caller is left waiting.
          for (const entry of live) entry.settle(Exit.die(cause));
        }
        return entries.map(() => undefined);
      },
    });
  }

  run<A, E, R>(unit: Unit<A, E, R>): Effect.Effect<A, E | Unavailable, R> {
    return Effect.flatMap(Effect.context<R>(), (context) =>
      Effect.callback<A, E | Unavailable>((resume) => {
        if (this.closing) {
          resume(Effect.fail(new Unavailable({ reason: "database unavailable: group commit is shutting down" })));
          return;
        }
        const entry: Entry = {
          state: queued,
          attempt: (tx) => Effect.runPromiseExitWith(context)(unit(tx)) as Promise<Exit.Exit<unknown, unknown>>,
          settle: (exit) => {
            resume(exit as Exit.Exit<A, E | Unavailable>);
            entry.ended?.();
          },
        };
        // Its batch settles it (the batch's own promise never rejects).
        void this.batches.submit(entry);
        return Effect.suspend(() => {
          if (entry.state === queued) {
            entry.state = dropped;
            return Effect.void;
          }
          // Started: its batch runs to its end; wait for it.
          return Effect.callback<void>((done) => {
            entry.ended = () => done(Effect.void);
          });
        });
      }),
    );
  }

  /** Stops taking units; resolves once the queued and running ones are done. */
  close(): Promise<void> {
    this.closing = true;
    return this.batches.drained();
  }

  private async runBatch(entries: ReadonlyArray<Entry>): Promise<void> {
    let pending = entries;
    const alone: Entry[] = [];
    let attempts = 0;
    while (pending.length > 0) {
      attempts += 1;
      const result = await this.attempt(pending);
      if (result.kind === "committed") {
        this.sizes.observe(pending.length);
        pending.forEach((entry, i) => {
          const exit = result.exits[i]!;
          if (isRetryable(exit)) alone.push(entry);
          else entry.settle(exit);
        });
        break;
      }
      if (result.kind === "lost") {
        const reason = result.committing
          ? "database unavailable: the connection was lost while committing; the change may or may not have been committed"
          : "database unavailable: the connection was lost; the change was not committed";
        for (const entry of pending) entry.settle(Exit.fail(new Unavailable({ reason })));
        break;
      }
      if (result.kind === "failed") {
        // The shared transaction as a whole was refused (at COMMIT, or a unit left an error
        // behind): each unit alone, so that only the one at fault fails.
        alone.push(...pending);
        break;
      }
      // rerun: the failing unit keeps its failure; the others run again without it.
      const failed = pending[result.index]!;
      if (isRetryable(result.exit)) alone.push(failed);
      else failed.settle(result.exit);
      pending = pending.filter((_, i) => i !== result.index);
      if (pending.length === 0) break;
      this.reruns.inc(pending.length);
      // Many failing units must not cost a batch quadratically many runs.
      if (attempts >= 3) {
        alone.push(...pending);
        break;
      }
    }
    for (const entry of alone) {
      this.alone.inc();
      entry.settle(await this.attemptAlone(entry));
    }
  }

  // One shared transaction over `entries`, in order.
  private async attempt(entries: ReadonlyArray<Entry>): Promise<Attempt> {
    const exits: Array<Exit.Exit<unknown, unknown>> = [];
    let committing = false;
    const usage = poolUsage(this.sql);
    const at = performance.now();
    usage.started();
    try {
      await this.sql.begin(async (tx) => {
        for (let i = 0; i < entries.length; i++) {
          const entry = entries[i]!;
          if (this.isolation === "savepoint") {
            exits.push(await inSavepoint(tx, entry));
          } else {
            const exit = await entry.attempt(tx);
            if (Exit.isFailure(exit)) throw new UnitFailed(i, exit);
            exits.push(exit);
          }
        }
        committing = true;
      });
      usage.finished((performance.now() - at) / 1000);
      return { kind: "committed", exits };
    } catch (cause) {
      const lost = isConnectionFailure(cause);
      usage.finished((performance.now() - at) / 1000, lost ? "connection" : "query");
      if (lost) return { kind: "lost", committing };
      if (cause instanceof UnitFailed) return { kind: "unit-failed", index: cause.index, exit: cause.exit };
      return { kind: "failed", cause };
    }
  }

  // The unit in a transaction of its own: its result is final.
  private async attemptAlone(entry: Entry): Promise<Exit.Exit<unknown, unknown>> {
    try {
      return await this.sql.begin(async (tx) => {
        const exit = await entry.attempt(tx);
        if (Exit.isFailure(exit)) throw new UnitFailed(0, exit);
        return exit;
      });
    } catch (cause) {
      if (cause instanceof UnitFailed) return cause.exit;
      if (isConnectionFailure(cause)) return Exit.fail(new Unavailable({ reason: "database unavailable" }));
      return Exit.die(cause);
    }
  }
}

// The unit in a savepoint of `tx`: rolled back to if it fails. A lost connection is thrown on.
async function inSavepoint(tx: postgres.TransactionSql, entry: Entry): Promise<Exit.Exit<unknown, unknown>> {
  try {
    return await tx.savepoint(async (sp) => {
      const exit = await entry.attempt(sp);
      if (Exit.isFailure(exit)) throw new UnitFailed(0, exit);
      return exit;
    });
  } catch (cause) {
    if (cause instanceof UnitFailed) return cause.exit;
    if (isConnectionFailure(cause)) throw cause;
    // The unit succeeded but left a failed statement behind (not awaited, or caught): postgres.js
    // rolled its savepoint back and throws that statement's error.
    return Exit.die(cause);
  }
}

// A deadlock or serialization failure anywhere in the unit's failure.
function isRetryable(exit: Exit.Exit<unknown, unknown>): boolean {
  if (Exit.isSuccess(exit)) return false;
  for (const reason of exit.cause.reasons) {
    const error = Cause.isFailReason(reason) ? reason.error : Cause.isDieReason(reason) ? reason.defect : undefined;
    if (typeof error === "object" && error !== null && retryableCodes.has(String((error as { code?: unknown }).code))) return true;
  }
  return false;
}
