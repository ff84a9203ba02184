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
import { ensureEventTables } from "./tables.js";
import type { EventType } from "./topic.js";

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
}

/** The outbox of this service. */
export class Outbox extends Context.Service<Outbox, OutboxShape>()("@meridian/kit/Outbox") {}

/** Writes outbox rows stamped with `source` (the producing service). */
export function makeOutbox(source: string): OutboxShape {
  return {
    write: async (tx, event, payload, meta) => {
      const envelope = makeEnvelope(event, payload, source, meta);
      const bytes = encodeEnvelope(envelope);
      await tx`
        insert into meridian_outbox (event_id, topic, envelope)
        values (${envelope.id}, ${event.topic}, ${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)})`;
      return envelope;
    },
  };
}

/** Provides the outbox, creating its tables in the service's schema at start-up if missing. */
export const layerOutbox = (options: { readonly source: string }): Layer.Layer<Outbox, Unavailable, Sql> =>
  Layer.effect(
    Outbox,
    Effect.flatMap(Effect.service(Sql), (sql) =>
      Effect.tryPromise({
        try: () => ensureEventTables(sql),
        catch: () => new Unavailable({ reason: "cannot create the outbox tables: database unavailable" }),
      }),
    ).pipe(Effect.as(makeOutbox(options.source))),
  );
