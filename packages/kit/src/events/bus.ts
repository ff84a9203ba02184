/**
 * The event bus of a service: where its events are appended and its consumers read, on Redis
 * Streams or in-process, behind one interface.
 */
import type { Message } from "@bufbuild/protobuf";
import { Context, Effect, Layer } from "effect";
import { ResourceExhausted, Unavailable } from "../errors.js";
import { Redis } from "../redis/connection.js";
import { StreamFull, type StreamBackend } from "./backend.js";
import { decodeEnvelope, encodeEnvelope, makeEnvelope, type Envelope, type EventMeta } from "./envelope.js";
import { memoryBackend, processMemoryBackend } from "./memory-backend.js";
import * as m from "./metrics.js";
import { redisBackend } from "./redis-backend.js";
import { deadLetterTopic, type EventType } from "./topic.js";

/** How the bus names and bounds its streams. */
export interface EventBusOptions {
  /** The service publishing through this bus: every envelope's `source`. */
  readonly source: string;
  /** Prefix of every stream key (default none), e.g. per test run. */
  readonly keyPrefix?: string;
  /** Most entries a topic's stream keeps (default 100,000); see `StreamBackend.append`. */
  readonly maxLen?: number;
  /** Most entries a dead-letter stream keeps (default 100,000). */
  readonly deadLetterMaxLen?: number;
}

/** An event that gave up, as read back from `<topic>.dlq`. */
export interface DeadLetteredEvent {
  /** The envelope, or undefined if the entry held none that decodes. */
  readonly envelope: Envelope | undefined;
  readonly reason: string;
  readonly group: string;
  readonly deliveries: number;
  readonly originalStreamId: string;
  readonly failedAt: Date;
}

/** What producers and the kit's consumer and relay use. */
export interface EventBusShape {
  readonly source: string;
  /**
   * Appends an event now, outside any transaction: at least once to the stream, but lost if the
   * process dies first or Redis loses its data. State changes publish through the outbox instead.
   * Fails with Unavailable when the store is unreachable, ResourceExhausted when the stream is full.
   */
  readonly publish: <A extends Message>(
    event: EventType<A>,
    payload: A,
    meta?: EventMeta,
  ) => Effect.Effect<Envelope, Unavailable | ResourceExhausted>;
  /** The oldest `count` (default 100) dead letters of a topic. */
  readonly deadLetters: (topic: string, count?: number) => Effect.Effect<ReadonlyArray<DeadLetteredEvent>, Unavailable>;
  /** The stream store; for the kit's consumer and relay. */
  readonly backend: StreamBackend;
  /** The store key of a topic's stream. */
  readonly streamKey: (topic: string) => string;
  readonly keyPrefix: string;
  readonly maxLen: number;
  readonly deadLetterMaxLen: number;
}

/** The event bus of this service. */
export class EventBus extends Context.Service<EventBus, EventBusShape>()("@meridian/kit/EventBus") {}

/** A bus over `backend`. */
export function makeEventBus(backend: StreamBackend, options: EventBusOptions): EventBusShape {
  const keyPrefix = options.keyPrefix ?? "";
  const maxLen = options.maxLen ?? 100_000;
  const streamKey = (topic: string) => keyPrefix + topic;
  return {
    source: options.source,
    backend,
    streamKey,
    keyPrefix,
    maxLen,
    deadLetterMaxLen: options.deadLetterMaxLen ?? 100_000,
    publish: (event, payload, meta) =>
      Effect.suspend(() => {
        const envelope = makeEnvelope(event, payload, options.source, meta);
        return Effect.tryPromise({
          try: async () => {
            const { streamIds, droppedUnconsumed } = await backend.append(streamKey(event.topic), [encodeEnvelope(envelope)], { maxLen });
            if (droppedUnconsumed > 0) m.droppedUnconsumed.inc({ topic: event.topic }, droppedUnconsumed);
            if (streamIds.length === 0) throw new StreamFull({ stream: streamKey(event.topic) });
          },
          catch: (cause) => cause,
        }).pipe(
          Effect.map(() => {
            m.published.inc({ topic: event.topic });
            return envelope;
          }),
          Effect.mapError((cause) => {
            if (cause instanceof StreamFull) {
              m.publishFailures.inc({ topic: event.topic, reason: "stream_full" });
              return new ResourceExhausted({ reason: cause.message });
            }
            m.publishFailures.inc({ topic: event.topic, reason: "unavailable" });
            return new Unavailable({ reason: "event bus unavailable" });
          }),
        );
      }),
    deadLetters: (topic, count = 100) =>
      Effect.tryPromise({
        try: () => backend.readDeadLetters(streamKey(deadLetterTopic(topic)), count),
        catch: () => new Unavailable({ reason: "event bus unavailable" }),
      }).pipe(
        Effect.map((letters) =>
          letters.map(({ envelope, streamId: _, ...rest }) => ({ ...rest, envelope: decodeOrUndefined(envelope) })),
        ),
      ),
  };
}

/** Provides the bus on Redis Streams (the Redis Layer's connection). */
export const layerRedisEventBus = (options: EventBusOptions): Layer.Layer<EventBus, never, Redis> =>
  Layer.effect(
    EventBus,
    Effect.map(Effect.service(Redis), (redis) => makeEventBus(redisBackend(redis), options)),
  );

/**
 * Provides the in-process bus. Every in-process bus of the process shares one store, so services
 * run together in one process see each other's events; `isolated` gives this one a store of its own.
 */
export const layerMemoryEventBus = (options: EventBusOptions & { readonly isolated?: boolean }): Layer.Layer<EventBus> =>
  Layer.sync(EventBus, () => makeEventBus(options.isolated === true ? memoryBackend() : processMemoryBackend(), options));

/** The Redis bus when a Redis Layer is given (REDIS_URL set), the in-process one otherwise. */
export const layerEventBusFor = <E, R>(
  redis: Layer.Layer<Redis, E, R> | undefined,
  options: EventBusOptions,
): Layer.Layer<EventBus, E, R> =>
  redis === undefined ? layerMemoryEventBus(options) : layerRedisEventBus(options).pipe(Layer.provide(redis));

function decodeOrUndefined(bytes: Uint8Array | undefined): Envelope | undefined {
  if (bytes === undefined) return undefined;
  try {
    return decodeEnvelope(bytes);
  } catch {
    return undefined;
  }
}
