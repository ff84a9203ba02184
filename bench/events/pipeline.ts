/**
 * End to end through the event machinery: producers commit a state change and its outbox row in
 * one PostgreSQL transaction; the relay publishes; idempotent consumers apply each event in their
 * own transaction. Throughput is events applied per second from the first commit to the last
 * apply; lag is each event's time from its envelope (written by the producer) to its apply commit.
 */
import { Effect, Exit, Layer, Option, Scope } from "effect";
import { OrderFilledSchema, type OrderFilled } from "../../sdk/src/gen/meridian/trading/v1/events_pb.js";
import { readFileSync } from "node:fs";
import { GroupCommit, layerGroupCommit, layerSql, Sql, type GroupCommitOptions } from "@meridian/kit/postgres";
import { layerRedis, Redis, type RedisConnection } from "@meridian/kit/redis";
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
  type SqlOrTransaction,
} from "@meridian/kit/events";
import { sampleFill } from "../../packages/kit/src/events/testing.js";
import { metrics } from "../../packages/kit/src/telemetry/metrics.js";

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
   * PostgreSQL connections of the process (default one per producer and consumer, plus 4). Fewer
   * than producers: single statements share connections (postgres.js pipelines them);
   * transactions wait for one.
   */
  readonly pool?: number;
  /**
   * live: relay and consumers run while producers commit (throughput and lag end to end);
   * backlog: the outbox is filled first, then drained (what the relay and consumers sustain);
   * producers: the producers alone, no relay or consumer (the ceiling of live on this machine).
   */
  readonly mode: "live" | "backlog" | "producers";
  /**
   * How a producer commits. statement: its order rows and their outbox rows (`outbox.insert`) in
   * one statement, its own transaction (one round trip, no BEGIN/COMMIT). begin: `sql.begin`, every statement awaited
   * (2 + 2 per event round trips). group: the statement of `statement` as a unit of work of the
   * kit's group commit (`GroupCommit.run`): the units of concurrent producers share a transaction.
   */
  readonly producer: ProducerStyle;
  /** Group commit's lanes, batch cap and isolation (producer group; the kit's defaults otherwise). */
  readonly groupCommit?: GroupCommitOptions;
}

/** CPU time per 1,000 events, ms: this Bun process, the run's PostgreSQL backends, Redis (the whole server). */
export interface CpuPerThousand {
  readonly bun: number;
  readonly postgres: number;
  readonly redis: number;
}

export type ProducerStyle = "statement" | "begin" | "group";

export interface PipelineResult {
  readonly options: PipelineOptions;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  readonly lagMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly applied: number;
  /** Events per consumer transaction, on average. */
  readonly meanBatch: number;
  readonly cpu: CpuPerThousand;
  /** Producer units per shared transaction (group), on average over the run; 0 otherwise. */
  readonly unitsPerGroupCommit: number;
}

const OrderFilledEvent = defineEvent("meridian.trading.order.filled", OrderFilledSchema);

const fill = (n: number): OrderFilled => sampleFill(n, `acc-${n % 100}`);

/** Runs one configuration in a schema (and key prefix) of its own, dropped afterwards. */
export async function runPipeline(options: PipelineOptions): Promise<PipelineResult> {
  const tag = crypto.randomUUID().slice(0, 8);
  const schema = `bench_events_${tag}`;
  const lags: number[] = [];
  let lastApplyAt = 0;

  // The portfolio side in bulk: one statement per table for the whole batch, sent together, in its transaction.
  const apply = idempotentBatch<OrderFilled, never, never>((events, tx) =>
    Effect.promise(() => {
      const byAccount = new Map<string, bigint>();
      for (const e of events) byAccount.set(e.payload.accountId, (byAccount.get(e.payload.accountId) ?? 0n) + e.payload.quantity);
      return Promise.all([
        tx`
          insert into applied_fills (event_id, order_id)
          select * from unnest(${events.map((e) => e.id)}::uuid[], ${events.map((e) => e.payload.orderId)}::text[])`,
        tx`
          insert into positions (account_id, quantity)
          select * from unnest(${[...byAccount.keys()]}::text[], ${[...byAccount.values()].map(String)}::bigint[])
          on conflict (account_id) do update set quantity = positions.quantity + excluded.quantity`,
      ]);
    }),
  );
  let batches = 0;
  const record = (events: ReadonlyArray<ReceivedEvent<OrderFilled>>) =>
    Effect.sync(() => {
      batches += 1;
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
  const applicationName = `bench-events-${tag}`;
  const layer = Layer.mergeAll(layerOutbox({ source: "trading" }).pipe(Layer.orDie), bus, layerGroupCommit(options.groupCommit)).pipe(
    Layer.provideMerge(
      layerSql({ url: options.pgUrl, schema, applicationName, maxConnections: options.pool ?? options.producers + options.consumers + 4 }).pipe(Layer.orDie),
    ),
  );

  const program = Effect.gen(function* () {
    const sql = yield* Sql;
    const outbox = yield* Outbox;
    const groupCommit = yield* GroupCommit;
    // The order rows [from, to) and their outbox rows in one statement, on the pool or a transaction.
    const placeAndPublish = (on: SqlOrTransaction, from: number, to: number) => {
      const q = on as Sql["Service"];
      if (to - from === 1) {
        const events = outbox.insert(q, OrderFilledEvent, fill(from));
        return q`with placed as (insert into orders (id) values (${`o-${from}`})) ${events.statement}`;
      }
      const ids = Array.from({ length: to - from }, (_, i) => ({ id: `o-${from + i}` }));
      const events = outbox.insert(q, OrderFilledEvent, ids.map((_, i) => fill(from + i)));
      return q`with placed as (insert into orders ${q(ids, "id")}) ${events.statement}`;
    };
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
            if (options.producer === "statement") {
              await placeAndPublish(sql, from, to);
            } else if (options.producer === "group") {
              await Effect.runPromise(groupCommit.run((tx) => Effect.promise(() => placeAndPublish(tx, from, to))));
            } else {
              await sql.begin(async (tx) => {
                for (let n = from; n < to; n++) {
                  await tx`insert into orders (id) values (${`o-${n}`})`;
                  await outbox.write(tx, OrderFilledEvent, fill(n));
                }
              });
            }
          }
        }),
      ),
    );
    // Warm-up: one event through, so connections and groups exist before the clock starts.
    yield* startRelayAndConsumers;
    yield* Effect.promise(() => sql.begin((tx) => outbox.write(tx, OrderFilledEvent, fill(-1))));
    while (lags.length < 1) yield* Effect.sleep(5);
    lags.length = 0;
    batches = 0;
    const cpu = cpuMeter(sql, applicationName, Option.getOrUndefined(yield* Effect.serviceOption(Redis)));
    yield* Effect.promise(() => cpu.start());
    let started: number;
    if (options.mode === "producers") {
      yield* Scope.close(scope, Exit.void);
      started = Date.now();
      yield* produceAll;
      lastApplyAt = Date.now();
      const used = yield* Effect.promise(() => cpu.stop());
      yield* Effect.promise(() => sql`drop schema ${sql(schema)} cascade`);
      return { started, applied: 0, used };
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
    const used = yield* Effect.promise(() => cpu.stop());

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
    return { started, applied: (row?.n ?? 0) - 1, used };
  });

  {
    const { started, applied, used } = await Effect.runPromise(Effect.provide(program, layer));
    const perThousand = (ms: number) => Math.round((ms / options.events) * 1000 * 10) / 10;
    const seconds = (lastApplyAt - started) / 1000;
    const sorted = [...lags].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    return {
      options,
      seconds,
      eventsPerSecond: options.events / seconds,
      lagMs: { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? 0 },
      applied,
      meanBatch: batches === 0 ? 0 : Math.round((lags.length / batches) * 10) / 10,
      cpu: { bun: perThousand(used.bun), postgres: perThousand(used.postgres), redis: perThousand(used.redis) },
      unitsPerGroupCommit: meanGroupCommitBatch(schema),
    };
  }
}

/**
 * CPU time spent while the clock runs: this process (producers, relay, consumers), the
 * PostgreSQL backends of the run's pool (found by application_name; a backend opened meanwhile
 * counts from zero), and the Redis server as a whole (its INFO: other clients of it count too).
 */
function cpuMeter(sql: Sql["Service"], applicationName: string, redis: RedisConnection | undefined) {
  const ticksPerMs = 100 / 1000; // USER_HZ
  const backends = async () => {
    const rows = await sql<{ pid: number }[]>`select pid from pg_stat_activity where application_name = ${applicationName}`;
    const times = new Map<number, number>();
    for (const { pid } of rows) {
      try {
        const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
        times.set(pid, (Number(fields[11]) + Number(fields[12])) / ticksPerMs);
      } catch {
        // gone, or not on this machine
      }
    }
    return times;
  };
  const redisMs = async () => {
    if (redis === undefined) return 0;
    const info = await redis.client.info("cpu");
    const value = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? 0);
    return (value("used_cpu_user") + value("used_cpu_sys")) * 1000;
  };
  let before: { bun: NodeJS.CpuUsage; pg: Map<number, number>; redis: number } | undefined;
  return {
    start: async () => {
      before = { pg: await backends(), redis: await redisMs(), bun: process.cpuUsage() };
    },
    stop: async () => {
      const bun = process.cpuUsage(before!.bun);
      const [pg, redisNow] = [await backends(), await redisMs()];
      let postgres = 0;
      for (const [pid, ms] of pg) postgres += ms - (before!.pg.get(pid) ?? 0);
      return { bun: (bun.user + bun.system) / 1000, postgres, redis: redisNow - before!.redis };
    },
  };
}

// The mean of the kit's batch size histogram of the run's pool (labelled by its schema).
function meanGroupCommitBatch(schema: string): number {
  const text = metrics.render();
  const read = (suffix: string) => Number(new RegExp(`^postgres_group_commit_batch_size_${suffix}\\{pool="${schema}"\\} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
  const count = read("count");
  return count === 0 ? 0 : Math.round((read("sum") / count) * 10) / 10;
}
