import { afterAll, describe, expect, test } from "bun:test";
import { Effect, Layer } from "effect";
import postgres from "postgres";
import { OrderFilledSchema, type OrderFilled } from "../../../../sdk/src/gen/meridian/trading/v1/events_pb.js";
import { layerSql, Sql } from "../postgres/sql.js";
import type { ReceivedEvent } from "./envelope.js";
import { idempotentBatch, uuidV7Floor } from "./idempotent.js";
import { ensureEventTables } from "./tables.js";
import { receivedEvent, sampleFill } from "./testing.js";
import { defineEvent } from "./topic.js";

const pgUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const schema = `t_idempotent_${crypto.randomUUID().slice(0, 8)}`;
const admin = postgres(pgUrl, { max: 1, onnotice: () => {} });
afterAll(async () => {
  await admin`drop schema if exists ${admin(schema)} cascade`;
  await admin.end();
});

const day = 24 * 3600_000;

/** A UUIDv7 made at `ms`. */
const idAt = (ms: number): string => {
  const random = crypto.randomUUID().replaceAll("-", "");
  const hex = ms.toString(16).padStart(12, "0") + "7" + random.slice(13, 16) + "8" + random.slice(17, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

const OrderFilledEvent = defineEvent("meridian.trading.order.filled", OrderFilledSchema);
const received = (n: number, group: string): ReceivedEvent<OrderFilled> =>
  receivedEvent(OrderFilledEvent, sampleFill(n), { group, streamId: `${Date.now()}-${n}` });

describe("idempotent consumer: pruning processed ids", () => {
  test("uuidV7Floor sorts below every UUIDv7 of its millisecond and later, above every earlier one", () => {
    const ms = Date.now();
    expect(uuidV7Floor(ms) <= idAt(ms)).toBe(true);
    expect(uuidV7Floor(ms) > idAt(ms - 1)).toBe(true);
    expect(uuidV7Floor(ms) < Bun.randomUUIDv7()).toBe(true);
  });

  test("ids processed and made longer ago than the retention go, a bounded batch per handled batch; the rest stay", async () => {
    const now = Date.now();
    const old = Array.from({ length: 5 }, (_, i) => idAt(now - 10 * day - i));
    // Made long ago but processed recently (it waited in an outbox): kept.
    const lateId = idAt(now - 10 * day);
    const otherGroupId = idAt(now - 10 * day);
    const applied: string[] = [];
    const handler = idempotentBatch<OrderFilled, never, never>(
      (events) => Effect.sync(() => applied.push(...events.map((e) => e.id))),
      { retentionMs: 7 * day, pruneBatchSize: 2, pruneIntervalMs: 60_000 },
    );
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const sql = yield* Sql;
        yield* Effect.promise(async () => {
          await ensureEventTables(sql);
          const at = new Date(now - 10 * day);
          for (const id of old) await sql`insert into meridian_processed_events values ('portfolio', ${id}, ${at})`;
          await sql`insert into meridian_processed_events values ('portfolio', ${lateId}, now())`;
          await sql`insert into meridian_processed_events values ('planning', ${otherGroupId}, ${at})`;
        });
        const remaining = () =>
          Effect.promise(async () => (await sql<{ n: number }[]>`select count(*)::int as n from meridian_processed_events where event_id = any(${old}::uuid[])`)[0]!.n);
        const events = [0, 1, 2, 3].map((n) => received(n, "portfolio"));
        const after: number[] = [];
        for (const event of events) {
          yield* handler.batch!([event]);
          after.push(yield* remaining());
        }
        // A redelivery of a processed (and kept) event has no second effect.
        yield* handler.batch!([events[0]!]);
        const kept = yield* Effect.promise(
          () => sql<{ group: string; id: string }[]>`select consumer_group as group, event_id::text as id from meridian_processed_events order by 1, 2`,
        );
        return { after, kept };
      }).pipe(Effect.provide(layerSql({ url: pgUrl, schema, maxConnections: 2 }).pipe(Layer.orDie))),
    );
    // Two per handled batch while whole batches go; the third pass finds one and stops until the interval.
    expect(result.after).toEqual([3, 1, 0, 0]);
    expect(applied.length).toBe(4);
    const kept = result.kept.map((k) => `${k.group}/${k.id}`);
    expect(kept).toContain(`portfolio/${lateId}`);
    expect(kept).toContain(`planning/${otherGroupId}`);
    expect(kept.filter((k) => k.startsWith("portfolio/")).length).toBe(1 + 4);
  });

  test("the pause: once nothing is left to prune, ids that age meanwhile wait for pruneIntervalMs", async () => {
    const now = Date.now();
    const handler = idempotentBatch<OrderFilled, never, never>(() => Effect.void, { retentionMs: 7 * day, pruneBatchSize: 10, pruneIntervalMs: 60_000 });
    const left = await Effect.runPromise(
      Effect.gen(function* () {
        const sql = yield* Sql;
        yield* Effect.promise(() => ensureEventTables(sql));
        yield* handler.batch!([received(10, "scoring")]); // prunes (nothing), then pauses
        yield* Effect.promise(() => sql`insert into meridian_processed_events values ('scoring', ${idAt(now - 10 * day)}, ${new Date(now - 10 * day)})`);
        yield* handler.batch!([received(11, "scoring")]);
        return yield* Effect.promise(async () => (await sql<{ n: number }[]>`select count(*)::int as n from meridian_processed_events where consumer_group = 'scoring'`)[0]!.n);
      }).pipe(Effect.provide(layerSql({ url: pgUrl, schema, maxConnections: 2 }).pipe(Layer.orDie))),
    );
    expect(left).toBe(3);
  });
});
