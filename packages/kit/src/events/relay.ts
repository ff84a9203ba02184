/**
 * The outbox relay: publishes the outbox's unsent rows in order, marks them sent with their
 * stream id, and deletes them once every consumer group has acknowledged them. Until then a row
 * can be published again: if the stream store loses its data (a Redis restart without
 * persistence; a restart of the in-process bus), the relay sees its marker gone and republishes
 * every unconfirmed row. It survives restarts of itself, of PostgreSQL and of Redis; on the wire
 * it is at least once.
 */
import { Cause, Effect, Exit, Layer } from "effect";
import type postgres from "postgres";
import { writeLogLine } from "../log.js";
import { Sql } from "../postgres/sql.js";
import { outageLog } from "../redis/outage-log.js";
import { MarkerLost, parseStreamId, StreamFull, type Marker } from "./backend.js";
import { EventBus, type EventBusShape } from "./bus.js";
import * as m from "./metrics.js";
import { ensureEventTables } from "./tables.js";

/** How much and how often. */
export interface RelayOptions {
  /** Rows published per round (default 500). */
  readonly batchSize?: number;
  /** Wait between rounds when the outbox is drained, ms (default 50), while events are being written. */
  readonly pollIntervalMs?: number;
  /**
   * The longest wait between rounds of an idle relay, ms (default 1000). Rounds that find nothing
   * double the wait from `pollIntervalMs` up to this; an event written through this process's
   * outbox brings it back to `pollIntervalMs` at once, and keeps it there for a while. An idle
   * service then costs a few queries a second instead of twenty; an event written by another
   * process (another instance of the service) waits at most this long.
   */
  readonly idlePollMaxMs?: number;
  /** How often sent rows are checked for acknowledgement (and deleted), ms (default 1000). */
  readonly confirmIntervalMs?: number;
  /**
   * After a round that published fewer than `lingerBelowRows` rows (but some), how long the relay
   * waits before the next, ms (default 20, or `pollIntervalMs` when that is shorter). Events written
   * meanwhile go out together: under a steady stream the relay makes fewer, fuller rounds (each one
   * transaction and one append per topic) and consumers get fuller batches (each one transaction),
   * at the cost of up to this much delivery latency. The first event after a quiet spell goes out
   * at once; after a round of more rows (already a full enough one) the next starts after 5 ms.
   */
  readonly lingerMs?: number;
  /** Rounds of fewer rows than this are followed by `lingerMs` (default 64). */
  readonly lingerBelowRows?: number;
}

/**
 * Runs the relay of the service's outbox (its `Sql` schema) to its event bus for as long as the
 * Layer lives; a round in progress finishes before release. Any number of instances may run: a
 * transaction-scoped advisory lock lets one publish at a time, which keeps the order.
 */
export const layerOutboxRelay = (options: RelayOptions = {}): Layer.Layer<never, never, Sql | EventBus> =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const sql = yield* Sql;
      const relay = new Relay(sql, yield* EventBus, options);
      const relays = relaysOf.get(sql) ?? new Set<Relay>();
      relaysOf.set(sql, relays);
      relays.add(relay);
      yield* Effect.addFinalizer(() => Effect.sync(() => relays.delete(relay)));
      yield* Effect.forkScoped(relay.run);
    }),
  );

/** The relays of each pool in this process, for the outbox to wake. */
const relaysOf = new WeakMap<postgres.Sql, Set<Relay>>();

/** How long a relay keeps polling at its fastest after an event was written. */
const activeWindowMs = 2000;

/**
 * The default linger after a round of fewer than `defaultLingerBelowRows` rows. On the platform
 * bench (2026-12-08, paired runs), 20 ms instead of 5 took portfolio's CPU per order at 300
 * orders/s from 0.88–0.89 to 0.52–0.59 ms and PostgreSQL's from 1.85–1.93 to 1.50–1.57 ms: fewer
 * relay rounds, and fill batches as much fuller (bench/platform/results.md).
 */
const defaultLingerMs = 20;
const defaultLingerBelowRows = 64;

/**
 * Tells this process's relays of `sql`'s outbox that an event is being written: they poll at their
 * fastest for a while (the writing transaction commits after this call, so one round right away
 * might not see it yet).
 */
export function wakeRelays(sql: postgres.Sql): void {
  const relays = relaysOf.get(sql);
  if (relays !== undefined) for (const relay of relays) relay.wake();
}

/** What a round did: rows marked sent, the bus's first failure, or the marker found lost. */
interface Published {
  readonly sent: number;
  readonly failure?: unknown;
  readonly lost?: boolean;
}

interface OutboxRow {
  readonly position: string;
  readonly topic: string;
  readonly envelope: Buffer;
}

class Relay {
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly idlePollMaxMs: number;
  private readonly confirmIntervalMs: number;
  private readonly lingerMs: number;
  private readonly lingerBelowRows: number;
  /** Until when rounds follow each other at `pollIntervalMs` (an event was written lately). */
  private activeUntil = 0;
  /** Ends the current idle wait early, if one is running. */
  private endWait: (() => void) | undefined;
  private readonly outage = outageLog("outbox relay cannot publish");
  private marker: Marker | undefined;
  private schema = "";
  private nextConfirmAt = 0;
  /** Rows may await confirmation: set by a round that sent some, cleared by a sweep that found none left. */
  private toConfirm = true;

  constructor(
    private readonly sql: postgres.Sql,
    private readonly bus: EventBusShape,
    options: RelayOptions,
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.pollIntervalMs = options.pollIntervalMs ?? 50;
    this.idlePollMaxMs = Math.max(this.pollIntervalMs, options.idlePollMaxMs ?? 1000);
    this.confirmIntervalMs = options.confirmIntervalMs ?? 1000;
    this.lingerMs = options.lingerMs ?? Math.min(defaultLingerMs, this.pollIntervalMs);
    this.lingerBelowRows = options.lingerBelowRows ?? defaultLingerBelowRows;
    // Starting up counts as activity: rows left by an earlier run go out at once.
    this.activeUntil = Date.now() + activeWindowMs;
  }

  /** An event is being written: poll at the fastest again, starting now. */
  wake(): void {
    this.activeUntil = Date.now() + activeWindowMs;
    this.endWait?.();
  }

  /** The wait after the `idleRounds`-th round in a row that found nothing. */
  private idleWait(idleRounds: number): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      const ms =
        Date.now() < this.activeUntil ? this.pollIntervalMs : Math.min(this.idlePollMaxMs, this.pollIntervalMs * 2 ** Math.min(idleRounds, 16));
      const done = () => {
        clearTimeout(timer);
        this.endWait = undefined;
        resume(Effect.void);
      };
      const timer = setTimeout(done, ms);
      this.endWait = done;
      return Effect.sync(() => {
        clearTimeout(timer);
        this.endWait = undefined;
      });
    });
  }

  readonly run: Effect.Effect<void> = Effect.gen({ self: this }, function* () {
    let failures = 0;
    let idleRounds = 0;
    while (true) {
      // A round is not cut short at shutdown: what it published gets marked sent.
      const round = yield* Effect.exit(Effect.uninterruptible(Effect.tryPromise({ try: () => this.round(), catch: (e) => e })));
      if (Exit.isFailure(round)) {
        failures += 1;
        m.relayErrors.inc({ schema: this.schema });
        this.outage.failed({ schema: this.schema, error: describe(Cause.squash(round.cause)) });
        yield* Effect.sleep(Math.min(2000, 50 * 2 ** Math.min(failures, 6)));
        continue;
      }
      if (failures > 0) this.outage.recovered({ schema: this.schema });
      failures = 0;
      // Drained: wait for more. A few rows: linger, so the events of a steady stream go out in
      // fuller rounds, and wait no longer than that. More, but not full: look again soon (a round
      // that size already pays for itself; a linger would only delay). Full: go on at once.
      idleRounds = round.value === 0 ? idleRounds + 1 : 0;
      if (round.value === 0) yield* this.idleWait(idleRounds - 1);
      else if (round.value < this.lingerBelowRows) yield* Effect.sleep(this.lingerMs);
      else if (round.value < this.batchSize) yield* Effect.sleep(Math.min(5, this.pollIntervalMs));
    }
  });

  /** One round: publish a batch, and now and then confirm. Returns the rows published. */
  private async round(): Promise<number> {
    const marker = this.marker ?? (await this.loadMarker());
    const published = await this.publishBatch(marker);
    if (published > 0) this.toConfirm = true;
    // An outbox with nothing sent lately and nothing left unconfirmed has nothing to confirm.
    if (this.toConfirm && Date.now() >= this.nextConfirmAt) {
      this.toConfirm = await this.confirm(marker);
      this.nextConfirmAt = Date.now() + this.confirmIntervalMs;
    }
    return published;
  }

  private async loadMarker(): Promise<Marker> {
    await ensureEventTables(this.sql);
    const [row] = await this.sql<{ schema: string }[]>`select current_schema() as schema`;
    this.schema = row?.schema ?? "";
    await this.sql`insert into meridian_outbox_marker (token) values (${crypto.randomUUID()}) on conflict do nothing`;
    const [marker] = await this.sql<{ token: string }[]>`select token from meridian_outbox_marker`;
    // The token in the key too: two outboxes (say, two databases with the same schema name on one
    // Redis) never mistake each other's marker for their own, or for a loss.
    this.marker = { key: `${this.bus.keyPrefix}meridian:outbox:${this.schema}:${marker!.token}`, token: marker!.token };
    return this.marker;
  }

  // In postgres.js's own transaction (sql.begin), which rejects the moment its connection closes:
  // the round waits on Redis between its statements, and a connection lost then must end the
  // round, not leave it waiting (a pipelined transaction on a reserved connection hung here when
  // PostgreSQL restarted, and was removed from the kit).
  // The lock and the read go out together. The bus's failures are carried out of the transaction,
  // not thrown in it: it ends (the rows it marked are kept) before they are raised.
  private async publishBatch(marker: Marker): Promise<number> {
    const outcome = await this.sql.begin(async (tx): Promise<Published> => {
      const [locked, rows] = await Promise.all([
        this.lock(tx),
        tx<OutboxRow[]>`select position, topic, envelope from meridian_outbox where sent_at is null order by position limit ${this.batchSize}`,
      ]);
      if (!locked || rows.length === 0) return { sent: 0 };
      // One append per topic, its rows in outbox order: a topic is one stream, and order is kept
      // per stream. An append stops at the first row its stream has no room for, so a later row
      // of a topic never lands before an earlier one. The appends go out together (pipelined).
      const byTopic = new Map<string, OutboxRow[]>();
      for (const row of rows) {
        const run = byTopic.get(row.topic);
        if (run === undefined) byTopic.set(row.topic, [row]);
        else run.push(row);
      }
      const runs = [...byTopic.values()];
      const results = await Promise.allSettled(
        runs.map((run) =>
          this.bus.backend.append(
            this.bus.streamKey(run[0]!.topic),
            run.map((row) => row.envelope),
            { maxLen: this.bus.maxLen, marker },
          ),
        ),
      );
      if (results.some((r) => r.status === "rejected" && r.reason instanceof MarkerLost)) return { sent: 0, lost: true };
      const positions: string[] = [];
      const ms: number[] = [];
      const seqs: number[] = [];
      let failure: unknown;
      results.forEach((result, i) => {
        const run = runs[i]!;
        const topic = run[0]!.topic;
        if (result.status === "rejected") {
          failure ??= result.reason;
          m.publishFailures.inc({ topic, reason: "unavailable" }, run.length);
          return;
        }
        const { streamIds, droppedUnconsumed } = result.value;
        streamIds.forEach((streamId, at) => {
          const [idMs, idSeq] = parseStreamId(streamId);
          positions.push(run[at]!.position);
          ms.push(idMs);
          seqs.push(idSeq);
        });
        m.published.inc({ topic }, streamIds.length);
        if (droppedUnconsumed > 0) m.droppedUnconsumed.inc({ topic }, droppedUnconsumed);
        if (streamIds.length < run.length) {
          failure ??= new StreamFull({ stream: this.bus.streamKey(topic) });
          m.publishFailures.inc({ topic, reason: "stream_full" }, run.length - streamIds.length);
        }
      });
      if (positions.length > 0) {
        // The range keeps the plan on the primary key. Without it, PostgreSQL's plan for this
        // statement, made once while the outbox was nearly empty and then kept, hashes the round's
        // rows and scans the whole outbox, sent rows awaiting acknowledgement included, every round.
        const [first, last] = span(positions);
        await tx`
          update meridian_outbox as o set sent_at = now(), stream_ms = v.ms, stream_seq = v.seq
          from unnest(${positions}::bigint[], ${ms}::bigint[], ${seqs}::bigint[]) as v(position, ms, seq)
          where o.position = v.position and o.position between ${first}::bigint and ${last}::bigint`;
        m.relayed.inc({ schema: this.schema }, positions.length);
      }
      return { sent: positions.length, failure };
    });
    if (outcome.lost === true) {
      await this.replay(marker);
      return this.batchSize;
    }
    // Nothing went out: back off. Some did: the rest is retried next round.
    if (outcome.failure !== undefined) {
      if (outcome.sent === 0) throw outcome.failure;
      this.outage.failed({ schema: this.schema, error: describe(outcome.failure) });
    }
    return outcome.sent;
  }

  /**
   * Deletes rows every consumer group acknowledged; replays everything when the store lost its
   * data. True while rows are left (unsent or unconfirmed).
   */
  private async confirm(marker: Marker): Promise<boolean> {
    const topics = await this.sql<{ topic: string }[]>`select distinct topic from meridian_outbox where sent_at is not null`;
    for (const { topic } of topics) {
      const consumption = await this.bus.backend.consumption(this.bus.streamKey(topic), marker);
      if (consumption._tag === "lost") {
        await this.replay(marker);
        break;
      }
      if (consumption._tag === "noGroups") {
        await this.sql`delete from meridian_outbox where topic = ${topic} and sent_at is not null`;
      } else {
        const [ms, seq] = parseStreamId(consumption.streamId);
        await this.sql`
          delete from meridian_outbox
          where topic = ${topic} and sent_at is not null and (stream_ms, stream_seq) < (${ms}::bigint, ${seq}::bigint)`;
      }
    }
    const [counts] = await this.sql<{ unsent: string; unconfirmed: string }[]>`
      select count(*) filter (where sent_at is null) as unsent, count(*) filter (where sent_at is not null) as unconfirmed
      from meridian_outbox`;
    m.outboxRows.set({ schema: this.schema, state: "unsent" }, Number(counts?.unsent ?? 0));
    m.outboxRows.set({ schema: this.schema, state: "unconfirmed" }, Number(counts?.unconfirmed ?? 0));
    return Number(counts?.unsent ?? 0) + Number(counts?.unconfirmed ?? 0) > 0;
  }

  // Everything sent but not confirmed may be gone with the store: mark it unsent, commit, and
  // only then restore the marker, which lets appends through again, so nothing slips past.
  private async replay(marker: Marker): Promise<void> {
    const reset = await this.sql.begin(async (tx) => {
      if (!(await this.lock(tx))) return undefined; // the relay holding the lock replays
      const result = await tx`update meridian_outbox set sent_at = null, stream_ms = null, stream_seq = null where sent_at is not null`;
      return result.count;
    });
    if (reset === undefined) return;
    await this.bus.backend.setMarker(marker);
    if (reset > 0) {
      m.replayed.inc({ schema: this.schema });
      writeLogLine("warn", "the event bus lost its data: republishing unconfirmed outbox rows", { schema: this.schema, rows: reset });
    }
  }

  // One relay at a time per schema publishes; the others skip the round.
  private async lock(tx: postgres.TransactionSql): Promise<boolean> {
    const [row] = await tx<{ locked: boolean }[]>`
      select pg_try_advisory_xact_lock(hashtext('meridian.outbox'), hashtext(current_schema())) as locked`;
    return row?.locked === true;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

/** The lowest and the highest of outbox positions (bigint as text). */
function span(positions: ReadonlyArray<string>): [string, string] {
  let low = BigInt(positions[0]!);
  let high = low;
  for (const position of positions) {
    const p = BigInt(position);
    if (p < low) low = p;
    if (p > high) high = p;
  }
  return [low.toString(), high.toString()];
}
