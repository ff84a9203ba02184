/**
 * End to end through the event machinery: producers commit a state change and its outbox row in
 * one PostgreSQL transaction; the relay publishes; idempotent consumers apply each event in their
 * own transaction. Throughput is events applied per second from the first commit to the last
 * apply; lag is each event's time from its envelope (written by the producer) to its apply commit.
 */
import { Effect, Exit, Layer, Option, Scope } from "effect";
import { OrderFilledSchema, type OrderFilled } from "../../sdk/src/gen/meridian/trading/v1/events_pb.js";
import { layerSql, Sql } from "@meridian/kit/postgres";
import { layerRedis, Redis } from "@meridian/kit/redis";
import {
  consume,
  defineEvent,
  idempotentBatch,
  layerMemoryEventBus,
  layerOutbox,
  layerOutboxRelay,
  layerRedisEventBus,
  Outbox,
  type EventBus,
  type EventHandler,
  type ReceivedEvent,
} from "@meridian/kit/events";
import { sampleFill } from "../../packages/kit/src/events/testing.js";

export interface PipelineOptions {
  readonly backend: "redis" | "in-process";
  readonly pgUrl: string;
  readonly redisUrl: string;
  readonly events: number;
  /** Concurrent producer transactions. */
  readonly producers: number;
  /** Events per producer transaction (each with its order row). */
  readonly eventsPerTransaction: number;
  /** Consumers in the group. */
  readonly consumers: number;
  /**
   * live: relay and consumers run while producers commit (throughput and lag end to end);
   * backlog: the outbox is filled first, then drained (what the relay and consumers sustain);
   * producers: the producers alone, no relay or consumer (the ceiling of live on this machine).
   */
  readonly mode: "live" | "backlog" | "producers";
}

export interface PipelineResult {
  readonly options: PipelineOptions;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  readonly lagMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly applied: number;
}

const OrderFilledEvent = defineEvent("meridian.trading.order.filled", OrderFilledSchema);

const fill = (n: number): OrderFilled => sampleFill(n, `acc-${n % 100}`);

/** Runs one configuration in a schema (and key prefix) of its own, dropped afterwards. */
export async function runPipeline(options: PipelineOptions): Promise<PipelineResult> {
  const tag = crypto.randomUUID().slice(0, 8);
  const schema = `bench_events_${tag}`;
  const lags: number[] = [];
  let lastApplyAt = 0;

  // The portfolio side in bulk: one statement per table for the whole batch, in its transaction.
  const apply = idempotentBatch<OrderFilled, never, never>((events, tx) =>
    Effect.promise(async () => {
      await tx`
        insert into applied_fills (event_id, order_id)
        select * from unnest(${events.map((e) => e.id)}::uuid[], ${events.map((e) => e.payload.orderId)}::text[])`;
      const byAccount = new Map<string, bigint>();
      for (const e of events) byAccount.set(e.payload.accountId, (byAccount.get(e.payload.accountId) ?? 0n) + e.payload.quantity);
      await tx`
        insert into positions (account_id, quantity)
        select * from unnest(${[...byAccount.keys()]}::text[], ${[...byAccount.values()].map(String)}::bigint[])
        on conflict (account_id) do update set quantity = positions.quantity + excluded.quantity`;
    }),
  );
  const record = (events: ReadonlyArray<ReceivedEvent<OrderFilled>>) =>
    Effect.sync(() => {
      const now = Date.now();
      lastApplyAt = now;
      for (const e of events) lags.push(now - e.time.getTime());
    });
  const handle: EventHandler<OrderFilled, unknown, Sql> = Object.assign((e: ReceivedEvent<OrderFilled>) => Effect.tap(apply(e), () => record([e])), {
    batch: (events: ReadonlyArray<ReceivedEvent<OrderFilled>>) => Effect.tap(apply.batch!(events), () => record(events)),
  });

  const busOptions = { source: "trading", keyPrefix: `bench:${tag}:` };
  const bus: Layer.Layer<EventBus | Redis> | Layer.Layer<EventBus> =
    options.backend === "redis"
      ? layerRedisEventBus(busOptions).pipe(Layer.provideMerge(layerRedis({ url: options.redisUrl })), Layer.orDie)
      : layerMemoryEventBus({ ...busOptions, isolated: true });
  const layer = Layer.mergeAll(layerOutbox({ source: "trading" }).pipe(Layer.orDie), bus).pipe(
    Layer.provideMerge(layerSql({ url: options.pgUrl, schema, maxConnections: options.producers + options.consumers + 4 }).pipe(Layer.orDie)),
  );

  const program = Effect.gen(function* () {
    const sql = yield* Sql;
    const outbox = yield* Outbox;
    yield* Effect.promise(async () => {
      await sql`create table orders (id text primary key, filled_at timestamptz not null default now())`;
      await sql`create table applied_fills (event_id uuid not null, order_id text not null)`;
      await sql`create table positions (account_id text primary key, quantity bigint not null)`;
    });
    let scope = yield* Scope.make();
    const startRelayAndConsumers = Effect.gen(function* () {
      yield* Scope.provide(scope)(Layer.build(layerOutboxRelay()));
      for (let i = 0; i < options.consumers; i++) {
        yield* Scope.provide(scope)(consume({ event: OrderFilledEvent, group: "portfolio", consumer: `bench-${i}`, handle, batchSize: 500 }));
      }
    });
    let next = 0;
    const produceAll = Effect.promise(() =>
      Promise.all(
        Array.from({ length: options.producers }, async () => {
          while (next < options.events) {
            const from = next;
            next += options.eventsPerTransaction;
            const to = Math.min(options.events, from + options.eventsPerTransaction);
            await sql.begin(async (tx) => {
              for (let n = from; n < to; n++) {
                await tx`insert into orders (id) values (${`o-${n}`})`;
                await outbox.write(tx, OrderFilledEvent, fill(n));
              }
            });
          }
        }),
      ),
    );
    // Warm-up: one event through, so connections and groups exist before the clock starts.
    yield* startRelayAndConsumers;
    yield* Effect.promise(() => sql.begin((tx) => outbox.write(tx, OrderFilledEvent, fill(-1))));
    while (lags.length < 1) yield* Effect.sleep(5);
    lags.length = 0;
    let started: number;
    if (options.mode === "producers") {
      yield* Scope.close(scope, Exit.void);
      started = Date.now();
      yield* produceAll;
      lastApplyAt = Date.now();
      yield* Effect.promise(() => sql`drop schema ${sql(schema)} cascade`);
      return { started, applied: 0 };
    }
    if (options.mode === "live") {
      started = Date.now();
      yield* produceAll;
    } else {
      // The relay pauses only between rounds: stop it while the backlog builds.
      yield* Scope.close(scope, Exit.void);
      yield* produceAll;
      scope = yield* Scope.make();
      started = Date.now();
      yield* startRelayAndConsumers;
    }
    while (lags.length < options.events) yield* Effect.sleep(2);

    const [row] = yield* Effect.promise(() => sql<{ n: number }[]>`select count(*)::int as n from applied_fills`);
    yield* Scope.close(scope, Exit.void);
    yield* Effect.promise(() => sql`drop schema ${sql(schema)} cascade`);
    const redis = yield* Effect.serviceOption(Redis);
    if (Option.isSome(redis)) {
      const { client } = redis.value;
      yield* Effect.promise(async () => {
        for await (const keys of client.scanIterator({ MATCH: `bench:${tag}:*`, COUNT: 1000 })) if (keys.length > 0) await client.unlink(keys);
      });
    }
    return { started, applied: (row?.n ?? 0) - 1 };
  });

  {
    const { started, applied } = await Effect.runPromise(Effect.provide(program, layer));
    const seconds = (lastApplyAt - started) / 1000;
    const sorted = [...lags].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    return {
      options,
      seconds,
      eventsPerSecond: options.events / seconds,
      lagMs: { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? 0 },
      applied,
    };
  }
}
