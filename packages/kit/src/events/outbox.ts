/**
 * The transactional outbox: a producer writes its event in the same PostgreSQL transaction as the
 * state change it describes; the relay publishes it after commit. Either both happen or neither.
 */
import type { Message } from "@bufbuild/protobuf";
import { Context, Effect, Layer } from "effect";
import type postgres from "postgres";
import { Unavailable } from "../errors.js";
import { Sql } from "../postgres/sql.js";
import { encodeEnvelope, makeEnvelope, type Envelope, type EventMeta } from "./envelope.js";
import { wakeRelays } from "./relay.js";
import { ensureEventTables } from "./tables.js";
import type { EventType } from "./topic.js";

/** The pool or a transaction: either builds the statement. */
export type SqlOrTransaction = postgres.Sql | postgres.TransactionSql;

/** Outbox rows as a statement for the caller to run: see {@link OutboxShape.insert}. */
export interface OutboxInsert {
  /**
   * `insert into meridian_outbox …` as a postgres.js fragment. Like every postgres.js query it
   * runs only when awaited (then alone) or embedded in a statement that runs.
   */
  readonly statement: postgres.PendingQuery<postgres.Row[]>;
  /** The envelopes of the rows, in order. */
  readonly envelopes: ReadonlyArray<Envelope>;
}

/** What a producing service uses. */
export interface OutboxShape {
  /**
   * Adds the event to the outbox inside `tx` (the caller's `sql.begin` transaction) and returns
   * its envelope. It is published after the transaction commits, at least once, and never if it
   * rolls back.
   */
  readonly write: <A extends Message>(
    tx: postgres.TransactionSql,
    event: EventType<A>,
    payload: A,
    meta?: EventMeta,
  ) => Promise<Envelope>;
  /**
   * The outbox rows of `payload` (one event, or several of one type, with one `meta` for all or
   * one per payload) as a fragment, for the producer to put in the very statement of its state
   * change, after it in a WITH:
   *
   *     const events = outbox.insert(sql, OrderFilledEvent, payload, meta);
   *     await sql`with placed as (insert into orders … ) ${events.statement}`;
   *
   * A statement is a transaction of its own: the change and its events commit together or not
   * at all, in one round trip with no BEGIN and COMMIT, the cheapest way to produce. (Data
   * changes in a WITH always run to completion, whatever the main statement reads.) Embedded in
   * a statement of a transaction (`sql.begin`), it commits with it.
   *
   * With `whenEach`, each row is written only if its own condition (a boolean SQL expression of
   * the caller's statement) holds: for a statement whose changes are themselves conditional,
   * decided by an earlier part of it (see {@link OutboxInsertOptions}).
   */
  readonly insert: <A extends Message>(
    sql: SqlOrTransaction,
    event: EventType<A>,
    payload: A | ReadonlyArray<A>,
    meta?: EventMeta | ReadonlyArray<EventMeta>,
    options?: OutboxInsertOptions,
  ) => OutboxInsert;
}

/** How {@link OutboxShape.insert} writes its rows. */
export interface OutboxInsertOptions {
  /**
   * Each row written only when `holds(key)` holds, `key` being the SQL value of `keys[i]` (one
   * per payload) for the row of payload i: e.g. `keys` the positions of the changes the events
   * describe, and `holds: (key) => sql`exists (select from checked where n = ${key} and ok)``.
   * The statement's text and plan do not depend on the number of rows (they go as one JSON
   * document), so one prepared statement, planned once, serves any number of them.
   */
  readonly whenEach?: {
    readonly keys: ReadonlyArray<number>;
    readonly holds: (key: postgres.PendingQuery<postgres.Row[]>) => postgres.PendingQuery<postgres.Row[]>;
  };
}

/** The outbox of this service. */
export class Outbox extends Context.Service<Outbox, OutboxShape>()("@meridian/kit/Outbox") {}

/** Writes outbox rows stamped with `source` (the producing service). */
export function makeOutbox(source: string): OutboxShape {
  const insert: OutboxShape["insert"] = (pool, event, payload, meta, options) => {
    // Both build statements alike; postgres.js's types only lack their common part.
    const sql = pool as postgres.Sql;
    const payloads: ReadonlyArray<Message> = Array.isArray(payload) ? payload : [payload as Message];
    const metaOf = metaPerPayload(meta, payloads.length);
    const envelopes = payloads.map((p, i) => makeEnvelope(event as EventType<Message>, p, source, metaOf(i)));
    const rows = envelopes.map((envelope) => {
      const bytes = encodeEnvelope(envelope);
      return { event_id: envelope.id, topic: event.topic, envelope: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
    });
    // No events: a statement that writes nothing, so the caller's statement stays valid.
    if (rows.length === 0) return { statement: sql`select where false`, envelopes };
    const each = options?.whenEach;
    if (each !== undefined) {
      if (each.keys.length !== rows.length) throw new RangeError(`outbox.insert: ${each.keys.length} keys for ${rows.length} payloads`);
      // The rows as one JSON document: its row count, unlike an array's, is not something the
      // planner looks at, so a prepared statement keeps one generic plan whatever the number of
      // rows (with arrays it would plan the statement again on every run).
      const document = rows.map((r, i) => ({ event_id: r.event_id, envelope: `\\x${r.envelope.toString("hex")}`, outbox_key: each.keys[i]! }));
      const statement = sql`
        insert into meridian_outbox (event_id, topic, envelope)
        select r.event_id, ${event.topic}::text, r.envelope
        from jsonb_to_recordset(${sql.json(document)}::jsonb) as r(event_id uuid, envelope bytea, outbox_key int8)
        where ${each.holds(sql`r.outbox_key`)}`;
      return { statement, envelopes };
    }
    // One event (the usual case) without the row helper, which costs more to build.
    const [row] = rows;
    if (rows.length === 1 && row !== undefined) {
      return {
        statement: sql`insert into meridian_outbox (event_id, topic, envelope) values (${row.event_id}, ${row.topic}, ${row.envelope})`,
        envelopes,
      };
    }
    return { statement: sql`insert into meridian_outbox ${sql(rows, "event_id", "topic", "envelope")}`, envelopes };
  };
  return {
    write: async (tx, event, payload, meta) => {
      const { statement, envelopes } = insert(tx, event, payload, meta);
      await statement;
      return envelopes[0]!;
    },
    insert,
  };
}

/** The meta of each payload: one for all, or one each (a count that differs is a bug). */
function metaPerPayload(meta: EventMeta | ReadonlyArray<EventMeta> | undefined, payloads: number): (i: number) => EventMeta | undefined {
  if (!Array.isArray(meta)) return () => meta as EventMeta | undefined;
  if (meta.length !== payloads) throw new RangeError(`outbox.insert: ${meta.length} metas for ${payloads} payloads`);
  return (i) => meta[i];
}

/**
 * Provides the outbox, creating its tables in the service's schema at start-up if missing. Each
 * write wakes this process's relays of the same pool, so an idle relay publishes it at once.
 */
export const layerOutbox = (options: { readonly source: string }): Layer.Layer<Outbox, Unavailable, Sql> =>
  Layer.effect(
    Outbox,
    Effect.flatMap(Effect.service(Sql), (sql) =>
      Effect.tryPromise({
        try: () => ensureEventTables(sql),
        catch: () => new Unavailable({ reason: "cannot create the outbox tables: database unavailable" }),
      }).pipe(Effect.as(wakingRelays(makeOutbox(options.source), sql))),
    ),
  );

function wakingRelays(outbox: OutboxShape, sql: postgres.Sql): OutboxShape {
  return {
    write: (tx, event, payload, meta) => {
      wakeRelays(sql);
      return outbox.write(tx, event, payload, meta);
    },
    insert: (pool, event, payload, meta, options) => {
      wakeRelays(sql);
      return outbox.insert(pool, event, payload, meta, options);
    },
  };
}
