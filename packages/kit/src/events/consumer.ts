/**
 * Consumers: one group per consuming service, sharing a topic's events among the service's
 * instances. Each event is acknowledged only after its handler succeeded; a failed one is
 * redelivered with backoff, and after `maxDeliveries` it moves to `<topic>.dlq` with the reason.
 * Events left pending by a consumer that died are claimed by the others once idle for
 * `claimIdleMs`. At shutdown a consumer finishes the event it is handling, then stops.
 */
import { hostname } from "node:os";
import type { Message } from "@bufbuild/protobuf";
import { Cause, Effect, Exit, Layer, type Scope } from "effect";
import { SpanStatusCode } from "@opentelemetry/api";
import { writeLogLine } from "../log.js";
import { startSpan } from "../telemetry/tracing.js";
import { outageLog } from "../redis/outage-log.js";
import type { Delivery, StreamReader } from "./backend.js";
import { EventBus, type EventBusShape } from "./bus.js";
import { receiveEvent, type ReceivedEvent } from "./envelope.js";
import * as m from "./metrics.js";
import { deadLetterTopic, type EventType } from "./topic.js";

/**
 * Applies one event; with `batch`, it can also apply several at once, all or none (as the
 * idempotent consumer does, in one transaction).
 */
export type EventHandler<A extends Message, E, R> = ((event: ReceivedEvent<A>) => Effect.Effect<void, E, R>) & {
  /** Applies every event or none; when it fails the consumer retries them one at a time. */
  readonly batch?: (events: ReadonlyArray<ReceivedEvent<A>>) => Effect.Effect<void, E, R>;
};

/** What to consume, how, and how hard to try. */
export interface ConsumerOptions<A extends Message, E, R> {
  readonly event: EventType<A>;
  /** The consuming service's name: its instances share the group's events. */
  readonly group: string;
  /**
   * Applies one event. Success acknowledges it. Failing with `Unavailable` (a dependency is down)
   * retries the same delivery in place until it works; any other failure or defect counts as a
   * failed delivery. Runs uninterruptibly: shutdown waits for it.
   */
  readonly handle: EventHandler<A, E, R>;
  /** This instance's name in the group (default host-pid-n); a stable name speeds recovery. */
  readonly consumer?: string;
  /** Events read at once (default 100). */
  readonly batchSize?: number;
  /** Longest wait for new events per read, ms (default 2000). */
  readonly blockMs?: number;
  /** Idle time after which another consumer's pending event is claimed, ms (default 30,000). */
  readonly claimIdleMs?: number;
  /** Deliveries before an event is dead-lettered (default 5). */
  readonly maxDeliveries?: number;
  /** Redelivery backoff after a failure: first delay and cap, ms (defaults 200 and 10,000; the cap is kept under claimIdleMs / 2). */
  readonly retryBaseMs?: number;
  readonly retryCapMs?: number;
  /** Events of a batch handled at once (default 1, which keeps the stream's order). */
  readonly concurrency?: number;
}

let consumerCount = 0;

/**
 * Starts consuming in the background for as long as the scope lives; returns at once. Closing
 * the scope lets the event being handled finish (and be acknowledged), then stops.
 */
export const consume = <A extends Message, E, R>(options: ConsumerOptions<A, E, R>): Effect.Effect<void, never, EventBus | R | Scope.Scope> =>
  Effect.gen(function* () {
    const bus = yield* EventBus;
    const reader = yield* Effect.acquireRelease(
      Effect.promise(() => bus.backend.openReader()),
      (r) => Effect.sync(() => r.close()),
    );
    const consumer = new Consumer(bus, reader, options);
    yield* Effect.promise(() => consumer.ensureGroup());
    yield* Effect.forkScoped(consumer.heartbeat);
    yield* Effect.forkScoped(consumer.run);
  });

/** Runs a consumer for as long as the Layer lives (see {@link consume}). */
export const layerConsumer = <A extends Message, E, R>(options: ConsumerOptions<A, E, R>): Layer.Layer<never, never, EventBus | R> =>
  Layer.effectDiscard(consume(options));

interface ScheduledRetry {
  readonly dueAt: number;
  readonly delayMs: number;
}

interface Ready<A extends Message> {
  readonly delivery: Delivery;
  readonly event: ReceivedEvent<A>;
}

type Decoded<A extends Message> = { readonly ok: true; readonly event: ReceivedEvent<A> } | { readonly ok: false; readonly reason: string };

class Consumer<A extends Message, E, R> {
  private readonly stream: string;
  private readonly deadLetterStream: string;
  private readonly name: string;
  private readonly labels: { readonly topic: string; readonly group: string };
  private readonly batchSize: number;
  private readonly blockMs: number;
  private readonly claimIdleMs: number;
  private readonly maxDeliveries: number;
  private readonly retryBaseMs: number;
  private readonly retryCapMs: number;
  private readonly staleScanEveryMs: number;
  private readonly retries = new Map<string, ScheduledRetry>();
  private readonly held = new Set<string>();
  private readonly outage = outageLog("event consumer cannot reach the event bus");
  private readonly dependencyOutage = outageLog("event handler cannot reach a dependency; retrying the same delivery");
  private nextStaleScanAt = 0;

  constructor(
    private readonly bus: EventBusShape,
    private readonly reader: StreamReader,
    private readonly options: ConsumerOptions<A, E, R>,
  ) {
    const topic = options.event.topic;
    this.stream = bus.streamKey(topic);
    this.deadLetterStream = bus.streamKey(deadLetterTopic(topic));
    this.name = options.consumer ?? `${hostname()}-${process.pid}-${++consumerCount}`;
    this.labels = { topic, group: options.group };
    this.batchSize = options.batchSize ?? 100;
    this.blockMs = options.blockMs ?? 2000;
    this.claimIdleMs = options.claimIdleMs ?? 30_000;
    this.maxDeliveries = options.maxDeliveries ?? 5;
    this.retryBaseMs = options.retryBaseMs ?? 200;
    this.retryCapMs = Math.min(options.retryCapMs ?? 10_000, this.claimIdleMs / 2);
    this.staleScanEveryMs = Math.min(this.claimIdleMs / 2, 5000);
  }

  /** Creates the group if it is missing; failures are left to the loop, which retries. */
  ensureGroup = (): Promise<void> => this.bus.backend.ensureGroup(this.stream, this.options.group).catch(() => {});

  /** Reads, handles and settles batches until interrupted; backend failures back off and retry. */
  readonly run: Effect.Effect<void, never, R> = Effect.gen({ self: this }, function* () {
    let failures = 0;
    while (true) {
      const batch = yield* Effect.exit(Effect.tryPromise({ try: () => this.nextBatch(), catch: (e) => e }));
      if (Exit.isFailure(batch)) {
        failures += 1;
        this.outage.failed({ ...this.labels, consumer: this.name, error: describe(Cause.squash(batch.cause)) });
        yield* Effect.sleep(Math.min(2000, 50 * 2 ** Math.min(failures, 6)));
        yield* Effect.promise(this.ensureGroup);
        continue;
      }
      if (failures > 0) this.outage.recovered(this.labels);
      failures = 0;
      yield* this.handleBatch(batch.value);
    }
  });

  // The whole batch is held (kept claimed) until settled. Stopped midway, the consumer hands
  // back what it has not started, uncounted, for the group's other consumers to take at once.
  private handleBatch(batch: ReadonlyArray<Delivery>): Effect.Effect<void, never, R> {
    const unstarted = new Map(batch.map((d) => [d.streamId, d]));
    for (const d of batch) this.held.add(d.streamId);
    return Effect.gen({ self: this }, function* () {
      const ready: Array<Ready<A>> = [];
      for (const delivery of batch) {
        if (delivery.deliveries > 1) m.redelivered.inc(this.labels);
        const decoded = this.decode(delivery);
        if (!decoded.ok) {
          unstarted.delete(delivery.streamId);
          yield* this.deadLetter(delivery, decoded.reason);
        } else if (delivery.deliveries > this.maxDeliveries) {
          unstarted.delete(delivery.streamId);
          yield* this.deadLetter(
            delivery,
            `delivered ${delivery.deliveries - 1} times without an acknowledgement (the consumer stopped or timed out each time)`,
          );
        } else {
          ready.push({ delivery, event: decoded.event });
        }
      }
      // All at once when the handler can (one transaction for the lot); one by one when it
      // cannot, or when the lot failed, to find the event that fails.
      if (this.options.handle.batch !== undefined && ready.length > 1) {
        for (const r of ready) unstarted.delete(r.delivery.streamId);
        if ((yield* this.untilNotTransient(this.attemptAll(ready))) === "settled") return;
        for (const r of ready) unstarted.set(r.delivery.streamId, r.delivery);
      }
      yield* Effect.forEach(
        ready,
        (r) =>
          Effect.suspend(() => {
            unstarted.delete(r.delivery.streamId);
            return this.untilNotTransient(this.attemptOne(r));
          }),
        { concurrency: this.options.concurrency ?? 1, discard: true },
      );
    }).pipe(
      Effect.onInterrupt(() =>
        Effect.promise(() =>
          this.bus.backend
            .release(this.stream, this.options.group, this.name, [...unstarted.values()], this.claimIdleMs)
            .catch(() => {}), // not handed back: claimed after claimIdleMs instead
        ),
      ),
      Effect.ensuring(Effect.sync(() => batch.forEach((d) => this.held.delete(d.streamId)))),
    );
  }

  // A dependency that is down fails every attempt alike: run it again, uncounted, and let
  // shutdown interrupt the wait between attempts (the events stay pending).
  private untilNotTransient<O>(attempt: Effect.Effect<O | "transient", never, R>): Effect.Effect<O, never, R> {
    return Effect.gen({ self: this }, function* () {
      for (let transientFailures = 0; ; transientFailures++) {
        if (transientFailures > 0) yield* Effect.sleep(Math.min(2000, this.retryBaseMs * 2 ** Math.min(transientFailures - 1, 8)));
        const outcome = yield* Effect.uninterruptible(attempt);
        if (outcome !== "transient") return outcome as O;
      }
    });
  }

  // The lot in one handler run, acknowledged together; "failed" sends it one by one.
  private attemptAll(ready: ReadonlyArray<Ready<A>>): Effect.Effect<"settled" | "failed" | "transient", never, R> {
    return Effect.gen({ self: this }, function* () {
      const exit = yield* this.traced(ready, this.options.handle.batch!(ready.map((r) => r.event)));
      if (Exit.isSuccess(exit)) {
        yield* this.acknowledge(ready);
        return "settled" as const;
      }
      if (isTransient(exit.cause)) {
        this.transientFailure(exit.cause, ready[0]!.event);
        return "transient" as const;
      }
      return "failed" as const;
    });
  }

  // One event: acknowledge it, or count the failure and schedule a redelivery or dead-letter it.
  private attemptOne({ delivery, event }: Ready<A>): Effect.Effect<"settled" | "transient", never, R> {
    return Effect.gen({ self: this }, function* () {
      const { handle } = this.options;
      const exit = yield* this.traced([{ delivery, event }], handle.batch === undefined ? handle(event) : handle.batch([event]));
      if (Exit.isSuccess(exit)) {
        yield* this.acknowledge([{ delivery, event }]);
        return "settled" as const;
      }
      if (isTransient(exit.cause)) {
        this.transientFailure(exit.cause, event);
        return "transient" as const;
      }
      const kind = Cause.hasFails(exit.cause) ? "error" : "defect";
      m.handlerFailures.inc({ ...this.labels, kind });
      const reason = `${kind === "defect" ? "defect: " : ""}${describe(Cause.squash(exit.cause))}`.slice(0, 2000);
      writeLogLine("warn", "event handler failed", {
        ...this.labels,
        event_id: event.id,
        correlation_id: event.correlationId,
        deliveries: delivery.deliveries,
        error: reason,
      });
      if (delivery.deliveries >= this.maxDeliveries) {
        yield* this.deadLetter(delivery, reason);
      } else {
        const delayMs = Math.min(this.retryCapMs, this.retryBaseMs * 2 ** (delivery.deliveries - 1));
        this.retries.set(delivery.streamId, { dueAt: Date.now() + delayMs, delayMs });
      }
      return "settled" as const;
    });
  }

  // One consumer span per event, child of the producer's trace context; nothing when tracing is off.
  private traced<X>(ready: ReadonlyArray<Ready<A>>, run: Effect.Effect<void, X, R>): Effect.Effect<Exit.Exit<void, X>, never, R> {
    return Effect.suspend(() => {
      const spans = ready.map(({ event }) =>
        startSpan(
          `${event.topic} process`,
          "consumer",
          event.traceparent === "" ? undefined : { traceparent: event.traceparent, tracestate: event.tracestate },
          {
            "messaging.system": "meridian",
            "messaging.operation.type": "process",
            "messaging.destination.name": event.topic,
            "messaging.consumer.group.name": event.group,
            "messaging.message.id": event.id,
            "messaging.message.delivery_count": event.deliveries,
          },
        ),
      );
      return Effect.tap(Effect.exit(run), (exit) =>
        Effect.sync(() => {
          for (const span of spans) {
            if (span === undefined) continue;
            if (Exit.isFailure(exit)) span.setStatus({ code: SpanStatusCode.ERROR, message: describe(Cause.squash(exit.cause)) });
            span.end();
          }
        }),
      );
    });
  }

  private acknowledge(settled: ReadonlyArray<Ready<A>>): Effect.Effect<void> {
    return Effect.promise(() =>
      this.bus.backend
        .ack(this.stream, this.options.group, settled.map((r) => r.delivery.streamId))
        .then(
          () => {
            const now = Date.now();
            this.dependencyOutage.recovered(this.labels);
            m.consumed.inc(this.labels, settled.length);
            for (const { event } of settled) m.consumerLag.observe(this.labels, Math.max(0, (now - event.time.getTime()) / 1000));
          },
          // Unacknowledged, they come back later; the idempotent consumer makes that harmless.
          (e: unknown) => this.outage.failed({ ...this.labels, operation: "ack", error: describe(e) }),
        ),
    );
  }

  private transientFailure(cause: Cause.Cause<unknown>, event: ReceivedEvent<A>): void {
    m.handlerFailures.inc({ ...this.labels, kind: "transient" });
    this.dependencyOutage.failed({ ...this.labels, event_id: event.id, error: describe(Cause.squash(cause)) });
  }

  /** Keeps the batch in hand claimed, so a slow batch is not mistaken for a dead consumer's. */
  readonly heartbeat: Effect.Effect<void> = Effect.gen({ self: this }, function* () {
    while (true) {
      yield* Effect.sleep(Math.max(10, this.claimIdleMs / 3));
      if (this.held.size === 0) continue;
      yield* Effect.promise(() => this.bus.backend.touch(this.stream, this.options.group, this.name, [...this.held]).catch(() => {}));
    }
  });

  private async nextBatch(): Promise<ReadonlyArray<Delivery>> {
    const { backend } = this.bus;
    const group = this.options.group;
    const now = Date.now();
    const batch: Delivery[] = [];

    const due = [...this.retries].filter(([, r]) => r.dueAt <= now);
    if (due.length > 0) {
      for (const [id] of due) this.retries.delete(id);
      // Claimed only if still idle since our failed delivery: someone who took it over keeps it.
      const minIdle = Math.max(0, Math.min(...due.map(([, r]) => r.delayMs)) - 20);
      batch.push(...(await backend.claim(this.stream, group, this.name, due.map(([id]) => id), minIdle)));
    }

    if (now >= this.nextStaleScanAt) {
      const { deliveries, missing } = await backend.claimStale(this.stream, group, this.name, this.claimIdleMs, this.batchSize);
      // A full page may mean more: look again next time round.
      this.nextStaleScanAt = deliveries.length >= this.batchSize ? now : now + this.staleScanEveryMs;
      batch.push(...deliveries.filter((d) => !this.retries.has(d.streamId)));
      if (missing.length > 0) {
        writeLogLine("warn", "pending events vanished from the stream before being handled", { ...this.labels, ids: missing });
      }
    }

    if (batch.length > 0) return batch;
    const nextRetryAt = Math.min(...[...this.retries.values()].map((r) => r.dueAt));
    const waitMs = Math.max(1, Math.min(this.blockMs, nextRetryAt - now, this.nextStaleScanAt - now));
    return this.reader.readNew(this.stream, group, this.name, this.batchSize, waitMs);
  }

  private deadLetter(delivery: Delivery, reason: string): Effect.Effect<void> {
    return Effect.promise(() =>
      this.bus.backend
        .deadLetter(this.stream, this.options.group, delivery, this.deadLetterStream, { reason, maxLen: this.bus.deadLetterMaxLen })
        .then(
          (moved) => {
            if (!moved) return;
            m.deadLettered.inc(this.labels);
            writeLogLine("error", "event dead-lettered", {
              ...this.labels,
              stream_id: delivery.streamId,
              deliveries: delivery.deliveries,
              reason,
            });
          },
          // Still pending: it is claimed again later and comes back here.
          (e: unknown) => this.outage.failed({ ...this.labels, operation: "dead-letter", error: describe(e) }),
        ),
    );
  }

  private decode(delivery: Delivery): Decoded<A> {
    return receiveEvent(this.options.event, delivery, this.options.group);
  }
}

// `Unavailable` (the kit's error for a dependency that cannot answer now) is worth waiting out.
function isTransient(cause: Cause.Cause<unknown>): boolean {
  return cause.reasons.some(
    (reason) => Cause.isFailReason(reason) && (reason.error as { _tag?: unknown } | null)?._tag === "Unavailable",
  );
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const tag = (error as { _tag?: unknown })._tag;
    const message = error.message || error.name;
    return typeof tag === "string" && !message.startsWith(tag) ? `${tag}: ${message}` : message;
  }
  return String(error);
}
