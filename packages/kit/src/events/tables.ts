/**
 * The event tables a service's schema gets: the outbox, its marker, and the processed-event
 * ids of the idempotent consumer. Created on first use, under a lock, if missing.
 */
import type postgres from "postgres";

const ddl = `
create table if not exists meridian_outbox (
  position bigint generated always as identity primary key,
  event_id uuid not null,
  topic text not null,
  envelope bytea not null,
  created_at timestamptz not null default now(),
  -- set when appended to the stream; the row is deleted once every consumer group acknowledged it
  sent_at timestamptz,
  stream_ms bigint,
  stream_seq bigint
);
create index if not exists meridian_outbox_unsent on meridian_outbox (position) where sent_at is null;
create index if not exists meridian_outbox_unconfirmed on meridian_outbox (topic, stream_ms, stream_seq) where sent_at is not null;
create table if not exists meridian_outbox_marker (
  singleton boolean primary key default true check (singleton),
  token text not null
);
create table if not exists meridian_processed_events (
  consumer_group text not null,
  event_id uuid not null,
  processed_at timestamptz not null default now(),
  primary key (consumer_group, event_id)
);
`;

const ensured = new WeakMap<postgres.Sql, Promise<void>>();

/** Creates the event tables in the pool's schema once per pool; a failure is retried by the next call. */
export function ensureEventTables(sql: postgres.Sql): Promise<void> {
  let done = ensured.get(sql);
  if (done === undefined) {
    done = sql
      .begin(async (tx) => {
        // Concurrent starters of one service would race on the catalog; the second waits, then skips.
        await tx`select pg_advisory_xact_lock(hashtext('meridian.events'), hashtext(current_schema()))`;
        await tx.unsafe(ddl);
      })
      .then(() => {});
    done.catch(() => ensured.delete(sql));
    ensured.set(sql, done);
  }
  return done;
}
