/**
 * The idempotent consumer: an event's id is recorded as processed in the same transaction as the
 * handler's own changes, so a redelivered or republished event has no second effect.
 */
import type { Message } from "@bufbuild/protobuf";
import { Effect, Exit, type Cause } from "effect";
import type postgres from "postgres";
import { Unavailable } from "../errors.js";
import { isConnectionFailure } from "../postgres/query.js";
import { Sql } from "../postgres/sql.js";
import type { ReceivedEvent } from "./envelope.js";
import * as m from "./metrics.js";
import { ensureEventTables } from "./tables.js";

/**
 * Wraps `apply` so it runs in a transaction that also records `(group, event id)`: an event
 * already recorded is skipped (and acknowledged), and a failing `apply` rolls both back. A lost
 * database connection fails with `Unavailable`, which the consumer waits out.
 */
export const idempotent =
  <A extends Message, E, R>(
    apply: (event: ReceivedEvent<A>, tx: postgres.TransactionSql) => Effect.Effect<void, E, R>,
  ): ((event: ReceivedEvent<A>) => Effect.Effect<void, E | Unavailable, R | Sql>) =>
  (event) =>
    Effect.gen(function* () {
      const sql = yield* Sql;
      const context = yield* Effect.context<R>();
      const outcome = yield* Effect.tryPromise({
        try: async () => {
          await ensureEventTables(sql);
          return sql.begin(async (tx) => {
            const fresh = await tx`
              insert into meridian_processed_events (consumer_group, event_id)
              values (${event.group}, ${event.id})
              on conflict do nothing
              returning 1 as fresh`;
            if (fresh.length === 0) return "duplicate" as const;
            const exit = await Effect.runPromiseExitWith(context)(apply(event, tx));
            if (Exit.isFailure(exit)) throw new RolledBack(exit.cause);
            return "applied" as const;
          });
        },
        catch: (cause) => cause,
      }).pipe(
        Effect.catch((cause): Effect.Effect<never, E | Unavailable> => {
          if (cause instanceof RolledBack) return Effect.failCause(cause.cause as Cause.Cause<E>);
          if (isConnectionFailure(cause)) return Effect.fail(new Unavailable({ reason: "database unavailable" }));
          return Effect.die(cause);
        }),
      );
      if (outcome === "duplicate") m.duplicates.inc({ topic: event.topic, group: event.group });
    });

// Carries the handler's failure out of the transaction callback, which rolls back on the throw.
class RolledBack {
  constructor(readonly cause: Cause.Cause<unknown>) {}
}
