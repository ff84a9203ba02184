import { create } from "@bufbuild/protobuf";
import { afterAll, expect, test } from "bun:test";
import { Effect, Layer } from "effect";
import postgres from "postgres";
import { OrderPlacedSchema } from "../../../../sdk/src/gen/meridian/trading/v1/events_pb.js";
import { layerSql, Sql } from "../postgres/sql.js";
import { cachedPlans } from "../testing/plans.js";
import { EventBus, makeEventBus } from "./bus.js";
import { memoryBackend } from "./memory-backend.js";
import { layerOutbox, Outbox } from "./outbox.js";
import { layerOutboxRelay } from "./relay.js";
import { defineEvent } from "./topic.js";

const pgUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const schema = `t_relay_${crypto.randomUUID().slice(0, 8)}`;
const admin = postgres(pgUrl, { max: 1, onnotice: () => {} });
afterAll(async () => {
  await admin`drop schema if exists ${admin(schema)} cascade`;
  await admin.end();
});

const OrderPlacedEvent = defineEvent("meridian.trading.order.placed", OrderPlacedSchema);

test("the relay marks rows sent through the outbox's primary key, even with a plan made while the outbox was nearly empty", async () => {
  const plans = await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const sql = yield* Sql;
        const outbox = yield* Outbox;
        const unsent = async () => (await sql<{ n: number }[]>`select count(*)::int as n from meridian_outbox where sent_at is null`)[0]!.n;
        // A round's worth of events (10), written together and published in one round.
        const publish = (n: number) =>
          Effect.gen(function* () {
            const events = Array.from({ length: 10 }, (_, i) => create(OrderPlacedSchema, { orderId: `o-${n}-${i}` }));
            yield* Effect.promise(() => sql.begin((tx) => outbox.insert(tx, OrderPlacedEvent, events).statement));
            while ((yield* Effect.promise(unsent)) > 0) yield* Effect.sleep(5);
          });
        yield* Layer.build(layerOutboxRelay({ pollIntervalMs: 5, confirmIntervalMs: 600_000 }));
        // Rounds on a nearly empty outbox: PostgreSQL settles on a generic plan for the statement.
        for (let n = 0; n < 10; n++) yield* publish(n);
        // Then the outbox grows: 20,000 rows sent but not yet acknowledged by every consumer group.
        yield* Effect.promise(
          () => sql`
            insert into meridian_outbox (event_id, topic, envelope, sent_at, stream_ms, stream_seq)
            select gen_random_uuid(), 'meridian.other', '\\x00'::bytea, now(), 1, g from generate_series(1, 20000) as g`,
        );
        yield* publish(10);
        return yield* Effect.promise(() => cachedPlans(sql, "update meridian_outbox as o set sent_at"));
      }).pipe(
        Effect.provide(
          Layer.mergeAll(layerOutbox({ source: "trading" }).pipe(Layer.orDie), Layer.succeed(EventBus, makeEventBus(memoryBackend(), { source: "trading", keyPrefix: "" }))).pipe(
            // One connection: the relay's prepared statements are on it, where cachedPlans reads them.
            Layer.provideMerge(layerSql({ url: pgUrl, schema, maxConnections: 1 }).pipe(Layer.orDie)),
          ),
        ),
      ),
    ),
  );
  expect(plans).toHaveLength(1);
  expect(plans[0]!.genericPlans).toBeGreaterThan(0);
  expect(plans[0]!.plan).toContain("meridian_outbox_pkey");
  expect(plans[0]!.plan).not.toContain("Seq Scan on meridian_outbox");
}, 30_000);
