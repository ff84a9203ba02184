/**
 * Events for services: topics and envelopes, the bus (Redis Streams or in-process), consumers
 * with redelivery and dead letters, the transactional outbox and its relay, the idempotent consumer.
 * Semantics: ./README.md.
 */
export { deadLetterTopic, defineEvent, type EventType } from "./topic.js";
export { EnvelopeSchema, makeEnvelope, type Envelope, type EventMeta, type ReceivedEvent } from "./envelope.js";
export {
  EventBus,
  layerEventBusFor,
  layerMemoryEventBus,
  layerRedisEventBus,
  makeEventBus,
  type DeadLetteredEvent,
  type EventBusOptions,
  type EventBusShape,
} from "./bus.js";
export { tail, tailGroup, type TailOptions } from "./tail.js";
export { consume, layerConsumer, type ConsumerOptions, type EventHandler } from "./consumer.js";
export { idempotent, idempotentBatch, type IdempotentOptions } from "./idempotent.js";
export { layerOutbox, makeOutbox, Outbox, type OutboxInsert, type OutboxInsertOptions, type OutboxShape, type SqlOrTransaction } from "./outbox.js";
export { layerOutboxRelay, type RelayOptions } from "./relay.js";
export { ensureEventTables } from "./tables.js";
export { memoryBackend } from "./memory-backend.js";
export { redisBackend } from "./redis-backend.js";
export {
  MarkerLost,
  StreamFull,
  type Consumption,
  type DeadLetter,
  type Delivery,
  type Marker,
  type StreamBackend,
  type StreamReader,
} from "./backend.js";
