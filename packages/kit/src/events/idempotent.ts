/**
 * The idempotent consumer: an event's id is recorded as processed in the same transaction as the
 * handler's own changes, so a redelivered or republished event has no second effect.
 */
import type { Message } from "@bufbuild/protobuf";
import { Effect, Exit, type Cause, type Context } from "effect";
import type postgres from "postgres";
import { Unavailable } from "../errors.js";
import { pipelinedTransaction } from "../postgres/pipelined.js";
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
): EventHandler<A, E | Unavailable, R | Sql> {
  return idempotentBatch<A, E, R>((events, tx) => Effect.forEach(events, (event) => apply(event, tx), { discard: true }));
}

/**
 * Like {@link idempotent}, for handlers that apply many events at once (bulk statements):
 * `apply` gets the events of the batch not applied before, each once, in stream order.
 */
export function idempotentBatch<A extends Message, E, R>(
  apply: (events: ReadonlyArray<ReceivedEvent<A>>, tx: postgres.TransactionSql) => Effect.Effect<void, E, R>,
): EventHandler<A, E | Unavailable, R | Sql> {
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
      if (duplicates > 0 && first !== undefined) m.duplicates.inc({ topic: first.topic, group: first.group }, duplicates);
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
  // BEGIN travels with the insert of the ids: one round trip fewer than sql.begin.
  return pipelinedTransaction(sql, async (tx) => {
    const recorded = await tx<{ event_id: string }[]>`
      insert into meridian_processed_events (consumer_group, event_id)
      select ${events[0]!.group}, id from unnest(${events.map((e) => e.id)}::uuid[]) as id
      on conflict do nothing
      returning event_id`;
    // An event delivered twice in one batch is new only the first time.
    const fresh = new Set(recorded.map((r) => r.event_id));
    const toApply = events.filter((e) => fresh.delete(e.id));
    if (toApply.length > 0) {
      const exit = await Effect.runPromiseExitWith(context)(apply(toApply, tx));
      if (Exit.isFailure(exit)) throw new RolledBack(exit.cause);
    }
    return events.length - toApply.length;
  });
}

// Carries the handler's failure out of the transaction callback, which rolls back on the throw.
class RolledBack {
  constructor(readonly cause: Cause.Cause<unknown>) {}
}
