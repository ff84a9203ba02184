/**
 * The idempotent consumer: an event's id is recorded as processed in the same transaction as the
 * handler's own changes, so a redelivered or republished event has no second effect.
 */
import type { Message } from "@bufbuild/protobuf";
import { Effect, Exit, type Cause, type Context } from "effect";
import type postgres from "postgres";
import { Unavailable } from "../errors.js";
import { writeLogLine } from "../log.js";
import { isConnectionFailure } from "../postgres/query.js";
import { Sql } from "../postgres/sql.js";
import type { EventHandler } from "./consumer.js";
import type { ReceivedEvent } from "./envelope.js";
import * as m from "./metrics.js";
import { ensureEventTables } from "./tables.js";

/**
 * Wraps `apply` so it runs in a transaction that also records `(group, event id)`: an event
 * already recorded is skipped (and acknowledged), and a failing `apply` rolls both back. A batch
 * is one transaction, its events applied one after the other. A lost database connection fails
 * with `Unavailable`, which the consumer waits out.
 */
export function idempotent<A extends Message, E, R>(
  apply: (event: ReceivedEvent<A>, tx: postgres.TransactionSql) => Effect.Effect<void, E, R>,
  options?: IdempotentOptions,
): EventHandler<A, E | Unavailable, R | Sql> {
  return idempotentBatch<A, E, R>((events, tx) => Effect.forEach(events, (event) => apply(event, tx), { discard: true }), options);
}

/** How long processed ids are kept, and how their pruning goes. */
export interface IdempotentOptions {
  /**
   * How long an event's id is kept after it was processed, ms (default 7 days). It must exceed
   * the longest an event can still come again after being processed: redeliveries
   * (`maxDeliveries` × `claimIdleMs`), and the relay republishing, after the stream store lost
   * its data, every row some group has not acknowledged yet (for as long as that group lags).
   */
  readonly retentionMs?: number;
  /** Ids deleted per pruning statement (default 1,000). */
  readonly pruneBatchSize?: number;
  /** Pause after a pruning statement that left nothing to prune, ms (default 60,000). */
  readonly pruneIntervalMs?: number;
}

const defaultRetentionMs = 7 * 24 * 3600_000;

/**
 * Like {@link idempotent}, for handlers that apply many events at once (bulk statements):
 * `apply` gets the events of the batch not applied before, each once, in stream order.
 */
export function idempotentBatch<A extends Message, E, R>(
  apply: (events: ReadonlyArray<ReceivedEvent<A>>, tx: postgres.TransactionSql) => Effect.Effect<void, E, R>,
  options: IdempotentOptions = {},
): EventHandler<A, E | Unavailable, R | Sql> {
  const pruner = makePruner(options);
  const batch = (events: ReadonlyArray<ReceivedEvent<A>>): Effect.Effect<void, E | Unavailable, R | Sql> =>
    Effect.gen(function* () {
      const sql = yield* Sql;
      const context = yield* Effect.context<R>();
      const duplicates = yield* Effect.tryPromise({
        try: () => applyOnce(sql, context, events, apply),
        catch: (cause) => cause,
      }).pipe(
        Effect.catch((cause): Effect.Effect<never, E | Unavailable> => {
          if (cause instanceof RolledBack) return Effect.failCause(cause.cause as Cause.Cause<E>);
          if (isConnectionFailure(cause)) return Effect.fail(new Unavailable({ reason: "database unavailable" }));
          return Effect.die(cause);
        }),
      );
      const first = events[0];
      if (first === undefined) return;
      if (duplicates > 0) m.duplicates.inc({ topic: first.topic, group: first.group }, duplicates);
      yield* Effect.promise(() => pruner(sql, first.group));
    });
  return Object.assign((event: ReceivedEvent<A>) => batch([event]), { batch });
}

// Records the ids, applies the events whose id was new, commits both; returns how many were not.
async function applyOnce<A extends Message, E, R>(
  sql: postgres.Sql,
  context: Context.Context<R>,
  events: ReadonlyArray<ReceivedEvent<A>>,
  apply: (events: ReadonlyArray<ReceivedEvent<A>>, tx: postgres.TransactionSql) => Effect.Effect<void, E, R>,
): Promise<number> {
  if (events.length === 0) return 0;
  await ensureEventTables(sql);
  // postgres.js's own transaction: it rejects the moment its connection closes, so a handler's
  // statement can never outlive it (a pipelined transaction, one round trip cheaper, hung here
  // when PostgreSQL restarted).
  return sql.begin(async (tx) => {
    // Only the ids recorded before come back (usually none), not one row per event.
    const before = await tx<{ id: string }[]>`
      with ids as (select distinct id from unnest(${events.map((e) => e.id)}::uuid[]) as id),
      recorded as (
        insert into meridian_processed_events (consumer_group, event_id)
        select ${events[0]!.group}, id from ids
        on conflict do nothing
        returning event_id)
      select id::text from ids where id not in (select event_id from recorded)`;
    // An event delivered twice in one batch is new only the first time.
    const seen = new Set(before.map((r) => r.id));
    const toApply: Array<ReceivedEvent<A>> = [];
    for (const event of events) {
      if (seen.has(event.id)) continue;
      seen.add(event.id);
      toApply.push(event);
    }
    if (toApply.length > 0) {
      const exit = await Effect.runPromiseExitWith(context)(apply(toApply, tx));
      if (Exit.isFailure(exit)) throw new RolledBack(exit.cause);
    }
    return events.length - toApply.length;
  });
}

/**
 * Deletes a group's processed ids older than the retention, a bounded batch at a time, after
 * handled batches: at once again while whole batches go, else after `pruneIntervalMs`. An id is
 * deleted only when both its event (UUIDv7: the id's time, which bounds the primary key range
 * scanned) and its processing are older than the retention. Failures wait for the next turn.
 */
function makePruner(options: IdempotentOptions): (sql: postgres.Sql, group: string) => Promise<void> {
  const retentionMs = options.retentionMs ?? defaultRetentionMs;
  const batchSize = options.pruneBatchSize ?? 1000;
  const intervalMs = options.pruneIntervalMs ?? 60_000;
  const nextAt = new Map<string, number>();
  return async (sql, group) => {
    const now = Date.now();
    if (now < (nextAt.get(group) ?? 0)) return;
    nextAt.set(group, now + intervalMs); // one pruning at a time per group, whatever the concurrency
    const cutoff = now - retentionMs;
    try {
      const deleted = await sql`
        delete from meridian_processed_events
        where (consumer_group, event_id) in (
          select consumer_group, event_id from meridian_processed_events
          where consumer_group = ${group} and event_id < ${uuidV7Floor(cutoff)}::uuid and processed_at < ${new Date(cutoff)}
          limit ${batchSize})`;
      if (deleted.count >= batchSize) nextAt.set(group, 0);
    } catch (error) {
      writeLogLine("warn", "cannot prune processed event ids; trying again later", { group, error: String(error) });
    }
  };
}

/** The smallest UUIDv7 of millisecond `ms`: every id made before it sorts below. */
export function uuidV7Floor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
}

// Carries the handler's failure out of the transaction callback, which rolls back on the throw.
class RolledBack {
  constructor(readonly cause: Cause.Cause<unknown>) {}
}
