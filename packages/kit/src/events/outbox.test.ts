import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Context, Effect, Exit, Fiber, Layer, Scope } from "effect";
import postgres from "postgres";
import { OrderFilledSchema, OrderPlacedSchema, type OrderFilled } from "../../../../sdk/src/gen/meridian/trading/v1/events_pb.js";
import { layerSql, Sql } from "../postgres/sql.js";
import { layerRedis, Redis } from "../redis/connection.js";
import { startRedisServer, type RedisServerProcess } from "../redis/testing.js";
import { dropRedisKeys } from "../testing/redis-keys.js";
import { metrics } from "../telemetry/metrics.js";
import type { StreamBackend } from "./backend.js";
import { EventBus, makeEventBus } from "./bus.js";
import { decodeEnvelope } from "./envelope.js";
import { consume } from "./consumer.js";
import { idempotent } from "./idempotent.js";
import { memoryBackend } from "./memory-backend.js";
import { layerOutbox, Outbox, type OutboxShape } from "./outbox.js";
import { redisBackend } from "./redis-backend.js";
import { layerOutboxRelay, type RelayOptions } from "./relay.js";
import { faultyBackend, sampleFill, startTcpProxy, type Faults } from "./testing.js";
import { defineEvent } from "./topic.js";


const pgUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const run = crypto.randomUUID().slice(0, 8);
const keyPrefix = `test:${run}:`;
const OrderFilledEvent = defineEvent("meridian.trading.order.filled", OrderFilledSchema);
const OrderPlacedEvent = defineEvent("meridian.trading.order.placed", OrderPlacedSchema);

const admin = postgres(pgUrl, { max: 1, onnotice: () => {} });
const schemas: string[] = [];
let ownRedis: RedisServerProcess;

beforeAll(async () => {
  ownRedis = await startRedisServer();
});
afterAll(async () => {
  for (const schema of schemas) await admin`drop schema if exists ${admin(schema)} cascade`;
  await admin.end();
  await ownRedis.stop();
  await dropRedisKeys(redisUrl, keyPrefix);
});

/** A stream store for one test: faults to inject, and a way to make it lose everything. */
interface TestBus {
  readonly layer: Layer.Layer<EventBus>;
  readonly faults: Faults;
  /** Redis killed and started empty; the in-process store replaced by an empty one. */
  readonly loseEverything: () => Promise<void>;
}

let busCount = 0;
const implementations: Array<{ name: string; bus: (options?: { ownServer?: boolean }) => Effect.Effect<TestBus, never, Scope.Scope> }> = [
  {
    name: "redis",
    bus: (options) =>
      Effect.gen(function* () {
        const url = options?.ownServer === true ? ownRedis.url : redisUrl;
        const context = yield* Layer.build(layerRedis({ url, reconnectCapMs: 100 })).pipe(Effect.orDie);
        const backend = redisBackend(Context.get(context, Redis));
        const faults: Faults = { dropAckRate: 0, duplicateAppendRate: 0 };
        const prefix = `${keyPrefix}${++busCount}:`;
        return {
          faults,
          layer: Layer.succeed(EventBus, makeEventBus(faultyBackend(() => backend, faults), { source: "trading", keyPrefix: prefix })),
          loseEverything: async () => {
            if (options?.ownServer !== true) throw new Error("only a test's own Redis may be restarted");
            await ownRedis.stop();
            await Bun.sleep(200);
            await ownRedis.start();
          },
        };
      }),
  },
  {
    name: "in-process",
    bus: () =>
      Effect.sync(() => {
        let backend: StreamBackend = memoryBackend();
        const faults: Faults = { dropAckRate: 0, duplicateAppendRate: 0 };
        return {
          faults,
          layer: Layer.succeed(EventBus, makeEventBus(faultyBackend(() => backend, faults), { source: "trading", keyPrefix: "" })),
          loseEverything: async () => {
            backend = memoryBackend();
          },
        };
      }),
  },
];

let schemaCount = 0;
/** A schema of its own for a test: the producer's orders and the consumer's applied fills. */
const database = (url = pgUrl) => {
  const schema = `t_events_${run}_${++schemaCount}`;
  schemas.push(schema);
  return layerSql({ url, schema, maxConnections: 8 }).pipe(Layer.orDie);
};

const prepare = Effect.flatMap(Effect.service(Sql), (sql) =>
  Effect.promise(async () => {
    await sql`create table orders (id text primary key, filled_at timestamptz not null default now())`;
    // No unique constraint: a second application of one event would show as a second row.
    await sql`create table applied_fills (seq bigint generated always as identity, event_id uuid not null, order_id text not null)`;
    await sql`create table positions (account_id text primary key, quantity bigint not null)`;
  }),
);

const fill = (n: number): OrderFilled => sampleFill(n);

/** Fills orders `from` to `to - 1`, each order row and its event in one transaction per `chunk`. */
const produce = (from: number, to: number, chunk = 100) =>
  Effect.gen(function* () {
    const sql = yield* Sql;
    const outbox = yield* Outbox;
    for (let start = from; start < to; start += chunk) {
      const end = Math.min(to, start + chunk);
      yield* Effect.promise(() =>
        sql.begin(async (tx) => {
          for (let n = start; n < end; n++) {
            await tx`insert into orders (id) values (${`o-${n}`})`;
            await outbox.write(tx, OrderFilledEvent, fill(n), { correlationId: `req-${n}` });
          }
        }),
      );
    }
  });

/** The portfolio side: applies each fill once, in the same transaction as its processed-event record. */
const applyFill = idempotent<OrderFilled, never, never>((event, tx) =>
  Effect.promise(async () => {
    await tx`insert into applied_fills (event_id, order_id) values (${event.id}, ${event.payload.orderId})`;
    await tx`
      insert into positions (account_id, quantity) values (${event.payload.accountId}, ${event.payload.quantity.toString()})
      on conflict (account_id) do update set quantity = positions.quantity + excluded.quantity`;
  }),
);

const portfolioConsumer = (name: string) =>
  consume({
    event: OrderFilledEvent,
    group: "portfolio",
    consumer: name,
    handle: applyFill,
    batchSize: 50,
    blockMs: 50,
    claimIdleMs: 300,
    retryBaseMs: 20,
  });

/** Runs `body` in a scope of its own, closed by the returned effect. */
const startIn = <R>(body: Effect.Effect<void, never, R | Scope.Scope>) =>
  Effect.gen(function* () {
    const scope = yield* Scope.fork(yield* Effect.scope);
    yield* Scope.provide(scope)(body);
    return Scope.close(scope, Exit.void);
  });
const startRelay = startIn(Layer.build(layerOutboxRelay({ pollIntervalMs: 20, confirmIntervalMs: 200 })).pipe(Effect.asVoid));

/**
 * Starts a relay with `options` on the test's bus, every append that went through recorded: its
 * stream and rows (a new relay's first appends find no marker, and replay).
 */
const startCountingRelay = (options: RelayOptions) =>
  Effect.gen(function* () {
    const bus = yield* EventBus;
    const appends: Array<{ stream: string; rows: number }> = [];
    const counting = makeEventBus(
      {
        ...bus.backend,
        append: async (stream, envelopes, appendOptions) => {
          const appended = await bus.backend.append(stream, envelopes, appendOptions);
          appends.push({ stream, rows: appended.streamIds.length });
          return appended;
        },
      },
      { source: "trading", keyPrefix: bus.keyPrefix },
    );
    yield* startIn(Layer.build(layerOutboxRelay(options)).pipe(Effect.provide(Layer.succeed(EventBus, counting)), Effect.asVoid));
    return appends;
  });

/** Waits until the relay has published every row of the outbox. */
const untilAllSent = Effect.gen(function* () {
  const sql = yield* Sql;
  const unsent = () => sql<{ n: number }[]>`select count(*)::int as n from meridian_outbox where sent_at is null`.then((rows) => rows[0]!.n);
  while ((yield* Effect.promise(unsent)) > 0) yield* Effect.sleep(10);
});

const counts = Effect.flatMap(Effect.service(Sql), (sql) =>
  Effect.promise(async () => {
    const [row] = await sql<{ applied: number; distinct_events: number; distinct_orders: number; outbox: number }[]>`
      select (select count(*)::int from applied_fills) as applied,
             (select count(distinct event_id)::int from applied_fills) as distinct_events,
             (select count(distinct order_id)::int from applied_fills) as distinct_orders,
             (select count(*)::int from meridian_outbox) as outbox`;
    return row!;
  }),
);

/** Waits until `count` fills are applied and the outbox is confirmed empty. */
const settled = (count: number, timeoutMs = 30_000) =>
  Effect.gen(function* () {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const c = yield* counts;
      if (c.applied >= count && c.outbox === 0) return c;
      if (Date.now() > deadline) return yield* Effect.die(new Error(`not settled in time: ${JSON.stringify(c)}`));
      yield* Effect.sleep(50);
    }
  });

const counter = (name: string, labels: Record<string, string>) => metrics.counter(name, "", []).get(labels);

/**
 * With a relay and a consumer running, runs `write` (statements with their outbox rows), then waits
 * until `expected` fills are applied: what `write` answered, and what was applied, in order.
 */
const writeThenApplied = <W>(write: (sql: postgres.Sql, outbox: OutboxShape) => Promise<W>, expected: number) =>
  Effect.gen(function* () {
    yield* startRelay;
    yield* startIn(portfolioConsumer("c"));
    const sql = yield* Sql;
    const outbox = yield* Outbox;
    const written = yield* Effect.promise(() => write(sql, outbox));
    yield* settled(expected);
    yield* Effect.sleep(300);
    const applied = yield* Effect.promise(() => sql<{ event_id: string; order_id: string }[]>`select event_id::text, order_id from applied_fills order by seq`);
    return { written, applied, counts: yield* counts };
  });

describe.each(implementations)("outbox, relay and idempotent consumer ($name)", ({ name, bus }) => {
  const runWith = <A>(
    body: (testBus: TestBus) => Effect.Effect<A, never, Sql | Outbox | EventBus | Scope.Scope>,
    options?: { ownServer?: boolean; pgUrl?: string },
  ) =>
    Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const testBus = yield* bus(options);
          const layer = Layer.mergeAll(layerOutbox({ source: "trading" }).pipe(Layer.orDie), testBus.layer).pipe(
            Layer.provideMerge(database(options?.pgUrl)),
          );
          // Consumers and relays stop before the pool and the bus close, as Layers would order them.
          return yield* Effect.provide(Effect.scoped(Effect.andThen(prepare, body(testBus))), layer);
        }),
      ),
    );

  test(
    "10,000 events through outbox, relay and consumers that crash mid-batch, lose acks and get duplicates: each applied exactly once",
    async () => {
      const total = 10_000;
      const duplicatesBefore = counter("events_duplicates_total", { topic: OrderFilledEvent.topic, group: "portfolio" });
      const result = await runWith((testBus) =>
        Effect.gen(function* () {
          testBus.faults.duplicateAppendRate = 0.02;
          testBus.faults.dropAckRate = 0.02;
          yield* startRelay;
          const consumers = [0, 1, 2].map(() => undefined as Effect.Effect<void> | undefined);
          let started = 0;
          for (let i = 0; i < consumers.length; i++) consumers[i] = yield* startIn(portfolioConsumer(`c${started++}`));
          const producer = yield* Effect.forkChild(produce(0, total));
          // Chaos: a random consumer is stopped mid-batch and replaced, until everything is applied.
          while ((yield* counts).applied < total) {
            yield* Effect.sleep(100 + Math.random() * 200);
            const victim = Math.floor(Math.random() * consumers.length);
            yield* consumers[victim]!;
            consumers[victim] = yield* startIn(portfolioConsumer(`c${started++}`));
          }
          yield* Fiber.join(producer);
          testBus.faults.dropAckRate = 0;
          const final = yield* settled(total);
          // Let any redelivery in flight play out: it must change nothing.
          yield* Effect.sleep(700);
          const sql = yield* Sql;
          const [position] = yield* Effect.promise(() => sql<{ quantity: string }[]>`select quantity from positions`);
          const [missing] = yield* Effect.promise(
            () => sql<{ n: number }[]>`select count(*)::int as n from orders o where not exists (select 1 from applied_fills a where a.order_id = o.id)`,
          );
          return { final, after: yield* counts, quantity: position?.quantity, missing: missing?.n, restarts: started - 3 };
        }),
      );
      expect(result.final.applied).toBe(total);
      expect(result.after.applied).toBe(total);
      expect(result.after.distinct_events).toBe(total);
      expect(result.after.distinct_orders).toBe(total);
      expect(result.missing).toBe(0);
      expect(result.quantity).toBe(String(total * 10));
      expect(result.restarts).toBeGreaterThan(0);
      // The faults did happen: some deliveries were of events already applied.
      expect(counter("events_duplicates_total", { topic: OrderFilledEvent.topic, group: "portfolio" }) - duplicatesBefore).toBeGreaterThan(0);
    },
    60_000,
  );

  test("a rolled-back transaction publishes nothing", async () => {
    const result = await runWith(() =>
      Effect.gen(function* () {
        yield* startRelay;
        yield* startIn(portfolioConsumer("c"));
        const sql = yield* Sql;
        const outbox = yield* Outbox;
        yield* Effect.promise(() =>
          sql
            .begin(async (tx) => {
              await tx`insert into orders (id) values ('o-rolled-back')`;
              await outbox.write(tx, OrderFilledEvent, fill(-1));
              throw new Error("insufficient funds");
            })
            .catch(() => {}),
        );
        yield* produce(0, 1);
        yield* settled(1);
        yield* Effect.sleep(300);
        return yield* counts;
      }),
    );
    expect(result.applied).toBe(1);
  });

  test("outbox.insert in the state change's statement: committed and published with it, never without it", async () => {
    const result = await runWith(() =>
      writeThenApplied(async (sql, outbox) => {
        // One order and its event per statement, and three orders with their events in one.
        const one = outbox.insert(sql, OrderFilledEvent, fill(0), { correlationId: "req-0" });
        await sql`with placed as (insert into orders (id) values ('o-0')) ${one.statement}`;
        const three = outbox.insert(sql, OrderFilledEvent, [fill(1), fill(2), fill(3)], [
          { correlationId: "req-1" },
          { correlationId: "req-2" },
          { correlationId: "req-3" },
        ]);
        const mismatch = (() => {
          try {
            outbox.insert(sql, OrderFilledEvent, [fill(1), fill(2)], [{ correlationId: "req-1" }]);
            return undefined;
          } catch (e) {
            return e instanceof RangeError ? e.message : String(e);
          }
        })();
        await sql`with placed as (insert into orders ${sql([{ id: "o-1" }, { id: "o-2" }, { id: "o-3" }], "id")}) ${three.statement}`;
        // The state change fails (the order exists): its event is not written either.
        const refused = outbox.insert(sql, OrderFilledEvent, fill(4));
        const failure = await sql`with placed as (insert into orders (id) values ('o-0')) ${refused.statement}`.then(
          () => undefined,
          (e: { code?: string }) => e.code,
        );
        // In a transaction, built on it, it commits with the transaction's other statements.
        const five = await sql.begin(async (tx) => {
          const events = outbox.insert(tx, OrderFilledEvent, fill(5));
          await Promise.all([tx`insert into orders (id) values ('o-5')`, events.statement]);
          return events;
        });
        // No events: the state change alone.
        const none = outbox.insert(sql, OrderFilledEvent, []);
        await sql`with placed as (insert into orders (id) values ('o-6')) ${none.statement}`;
        const [orders] = await sql<{ n: number }[]>`select count(*)::int as n from orders`;
        return {
          envelopes: [...one.envelopes, ...three.envelopes, ...five.envelopes],
          refused: refused.envelopes[0]!.id,
          mismatch,
          failure,
          none: none.envelopes.length,
          orders: orders!.n,
        };
      }, 5),
    );
    expect(result.written.failure).toBe("23505");
    expect(result.written.none).toBe(0);
    expect(result.written.orders).toBe(6);
    expect(result.counts.applied).toBe(5);
    expect(result.applied.map((a) => a.order_id)).toEqual(["o-0", "o-1", "o-2", "o-3", "o-5"]);
    // What was applied is what insert returned: the same envelopes (ids), and none of the refused one.
    expect(result.applied.map((a) => a.event_id)).toEqual(result.written.envelopes.map((e) => e.id));
    expect(result.applied.map((a) => a.event_id)).not.toContain(result.written.refused);
    expect(result.written.envelopes.slice(0, 4).map((e) => e.correlationId)).toEqual(["req-0", "req-1", "req-2", "req-3"]);
    expect(result.written.mismatch).toBe("outbox.insert: 1 metas for 2 payloads");
    expect(result.written.envelopes.every((e) => e.source === "trading" && e.type === OrderFilledSchema.typeName)).toBe(true);
  });

  test("outbox.insert with `whenEach`: each row written only if its own condition holds, one statement for any number", async () => {
    const result = await runWith(() =>
      writeThenApplied(async (sql, outbox) => {
        // Orders decided one by one in the statement (1 and 3 placed, 2 and 4 not); each event follows its order.
        const decide = (decisions: ReadonlyArray<boolean>, first: number) => {
          const events = outbox.insert(
            sql,
            OrderFilledEvent,
            decisions.map((_, i) => fill(first + i)),
            decisions.map((_, i) => ({ correlationId: `req-${first + i}` })),
            { whenEach: { keys: decisions.map((_, i) => i + 1), holds: (key) => sql`exists (select from decided where n = ${key} and ok)` } },
          );
          const rows = decisions.map((ok, i) => ({ n: i + 1, ok, id: `o-${first + i}` }));
          return {
            events,
            run: sql`
              with decided as materialized (select * from jsonb_to_recordset(${sql.json(rows)}::jsonb) as d(n int, ok boolean, id text)),
              placed as (insert into orders (id) select id from decided where ok)
              ${events.statement}`,
          };
        };
        const four = decide([true, false, true, false], 0);
        await four.run;
        const two = decide([false, true], 10);
        await two.run;
        const mismatch = (() => {
          try {
            outbox.insert(sql, OrderFilledEvent, [fill(1), fill(2)], undefined, { whenEach: { keys: [1], holds: () => sql`true` } });
            return undefined;
          } catch (e) {
            return e instanceof RangeError ? e.message : String(e);
          }
        })();
        return { written: [...four.events.envelopes, ...two.events.envelopes], mismatch };
      }, 3),
    );
    expect(result.applied.map((a) => a.order_id)).toEqual(["o-0", "o-2", "o-11"]);
    const [e0, , e2, , , e11] = result.written.written;
    expect(result.applied.map((a) => a.event_id)).toEqual([e0!.id, e2!.id, e11!.id]);
    expect(result.written.mismatch).toBe("outbox.insert: 1 keys for 2 payloads");
  });

  test("a relay restarted with pending rows publishes them, in order, once it is back", async () => {
    const order = await runWith(() =>
      Effect.gen(function* () {
        const sql = yield* Sql;
        yield* startIn(portfolioConsumer("only"));
        // Written while no relay runs.
        yield* produce(0, 300, 50);
        const stopRelay = yield* startRelay;
        while ((yield* counts).applied < 50) yield* Effect.sleep(5);
        yield* stopRelay;
        yield* produce(300, 400, 50);
        yield* Effect.sleep(200);
        expect((yield* counts).applied).toBeLessThan(400);
        yield* startRelay;
        yield* settled(400);
        const rows = yield* Effect.promise(() => sql<{ order_id: string }[]>`select order_id from applied_fills order by seq`);
        return rows.map((r) => r.order_id);
      }),
    );
    // One consumer, no faults: each applied once, in the order the producer committed them.
    expect(order).toEqual(Array.from({ length: 400 }, (_, n) => `o-${n}`));
  }, 30_000);

  test("rows of two topics written interleaved go out in one append per topic, each stream in outbox order", async () => {
    const result = await runWith(() =>
      Effect.gen(function* () {
        const sql = yield* Sql;
        const outbox = yield* Outbox;
        const bus = yield* EventBus;
        // Written before the relay starts: its first round finds all of them.
        const written = yield* Effect.promise(() =>
          sql.begin(async (tx) => {
            const ids: Array<{ topic: string; id: string }> = [];
            for (let n = 0; n < 20; n++) {
              const event = n % 2 === 0 ? outbox.insert(tx, OrderPlacedEvent, create(OrderPlacedSchema, { orderId: `o-${n}` })) : outbox.insert(tx, OrderFilledEvent, fill(n));
              await event.statement;
              ids.push({ topic: n % 2 === 0 ? OrderPlacedEvent.topic : OrderFilledEvent.topic, id: event.envelopes[0]!.id });
            }
            return ids;
          }),
        );
        const appends = yield* startCountingRelay({ pollIntervalMs: 20 });
        yield* untilAllSent;
        const reader = yield* Effect.promise(() => bus.backend.openReader());
        const streamed = yield* Effect.promise(async () => {
          const of = async (topic: string) =>
            (await reader.readAfter(bus.streamKey(topic), "0-0", 100, 10)).map((d) => decodeEnvelope(d.envelope!).id);
          return { placed: await of(OrderPlacedEvent.topic), filled: await of(OrderFilledEvent.topic) };
        });
        reader.close();
        return { written, appends, streamed };
      }),
    );
    expect(result.appends).toEqual([
      { stream: expect.stringContaining(OrderPlacedEvent.topic), rows: 10 },
      { stream: expect.stringContaining(OrderFilledEvent.topic), rows: 10 },
    ]);
    const idsOf = (topic: string) => result.written.filter((w) => w.topic === topic).map((w) => w.id);
    expect(result.streamed.placed).toEqual(idsOf(OrderPlacedEvent.topic));
    expect(result.streamed.filled).toEqual(idsOf(OrderFilledEvent.topic));
  });

  test("a relay lingers after a partial round: events written meanwhile go out in one append, the first at once", async () => {
    const result = await runWith(() =>
      Effect.gen(function* () {
        const sql = yield* Sql;
        const outbox = yield* Outbox;
        const writeOne = (n: number) => sql.begin((tx) => outbox.write(tx, OrderFilledEvent, fill(n)));
        const appends = yield* startCountingRelay({ pollIntervalMs: 20, lingerMs: 3000 });
        // The first event after a quiet spell: published on its own, without waiting.
        const firstWritten = Date.now();
        yield* Effect.promise(() => writeOne(0));
        while (appends.length === 0) yield* Effect.sleep(5);
        const firstDelayMs = Date.now() - firstWritten;
        // Five more, each its own transaction, 60 ms apart (three poll intervals), while the relay
        // lingers after that one-row round.
        for (let n = 1; n <= 5; n++) {
          yield* Effect.sleep(60);
          yield* Effect.promise(() => writeOne(n));
        }
        const writtenWithinMs = Date.now() - firstWritten;
        yield* untilAllSent;
        return { appends: appends.map((a) => a.rows), firstDelayMs, writtenWithinMs };
      }),
    );
    // Without the linger each of the five is a round (and an append) of its own.
    expect(result.writtenWithinMs).toBeLessThan(3000);
    expect(result.appends).toEqual([1, 5]);
    expect(result.firstDelayMs).toBeLessThan(1000);
  }, 20_000);

  test("a relay does not linger after a round of `lingerBelowRows` rows or more: the next event goes out at once", async () => {
    const result = await runWith(() =>
      Effect.gen(function* () {
        const sql = yield* Sql;
        const outbox = yield* Outbox;
        const appends = yield* startCountingRelay({ pollIntervalMs: 20, lingerMs: 1500, lingerBelowRows: 3 });
        yield* Effect.promise(() => sql.begin(async (tx) => Promise.all([0, 1, 2].map((n) => outbox.write(tx, OrderFilledEvent, fill(n))))));
        while (appends.length === 0) yield* Effect.sleep(5);
        const written = Date.now();
        yield* Effect.promise(() => sql.begin((tx) => outbox.write(tx, OrderFilledEvent, fill(3))));
        while (appends.length < 2) yield* Effect.sleep(5);
        return { appends: appends.map((a) => a.rows), delayMs: Date.now() - written };
      }),
    );
    expect(result.appends).toEqual([3, 1]);
    expect(result.delayMs).toBeLessThan(1000);
  }, 20_000);

  test(`the event bus losing all its data (${name === "redis" ? "Redis restarted empty" : "in-process bus restarted"}) loses no event`, async () => {
    const total = 2000;
    const result = await runWith(
      (testBus) =>
        Effect.gen(function* () {
          yield* startRelay;
          yield* startIn(portfolioConsumer("a"));
          yield* startIn(portfolioConsumer("b"));
          const producer = yield* Effect.forkChild(produce(0, total, 20));
          while ((yield* counts).applied < total / 4) yield* Effect.sleep(5);
          yield* Effect.promise(() => testBus.loseEverything());
          yield* Fiber.join(producer);
          yield* settled(total);
          yield* Effect.sleep(500);
          return yield* counts;
        }),
      { ownServer: true },
    );
    expect(result.applied).toBe(total);
    expect(result.distinct_orders).toBe(total);
  }, 30_000);

  // postgres.js 3.4.9 throws an uncaught TypeError from `nextWrite` when a connection closes with
  // a small write pending (porsager/postgres#1066, #1208), which would take the process down:
  // patches/postgres@3.4.9.patch guards it (the fix proposed upstream in #1209).
  test("PostgreSQL restarting under the relay and the consumers loses nothing and doubles nothing", async () => {
    const target = new URL(pgUrl);
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    const proxied = new URL(pgUrl);
    proxied.hostname = "127.0.0.1";
    proxied.port = String(proxy.port);
    const total = 1500;
    try {
      const result = await runWith(
        () =>
          Effect.gen(function* () {
            yield* produce(0, total, 100);
            yield* startRelay;
            yield* startIn(portfolioConsumer("a"));
            yield* startIn(portfolioConsumer("b"));
            while ((yield* counts).applied < 200) yield* Effect.sleep(2);
            proxy.cut();
            yield* Effect.sleep(500);
            proxy.restore();
            yield* settled(total);
            yield* Effect.sleep(300);
            return yield* counts;
          }),
        { pgUrl: proxied.toString() },
      );
      expect(result.applied).toBe(total);
      expect(result.distinct_orders).toBe(total);
    } finally {
      await proxy.close();
    }
  }, 30_000);
});
