/**
 * The envelope every event travels in, and the event a consumer receives out of it.
 */
import { create, fromBinary, toBinary, type Message } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { context, propagation } from "@opentelemetry/api";
import { EnvelopeSchema, type Envelope } from "@meridian/sdk/events";
import { startSpan, traceHeadersOf } from "../telemetry/tracing.js";
import type { EventType } from "./topic.js";

export { EnvelopeSchema, type Envelope };

/** What ties an event to the request that caused it. */
export interface EventMeta {
  /** The request's correlation id (x-request-id); empty when none. */
  readonly correlationId?: string;
  /** W3C trace context; taken from the active OpenTelemetry context when not given. */
  readonly traceparent?: string;
  readonly tracestate?: string;
}

/** An event as a consumer's handler gets it. */
export interface ReceivedEvent<A extends Message> {
  /** The event's UUIDv7: the same on every delivery of it. */
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly time: Date;
  readonly traceparent: string;
  readonly tracestate: string;
  readonly correlationId: string;
  readonly payload: A;
  readonly topic: string;
  /** The consumer group (the consuming service). */
  readonly group: string;
  /** 1 on the first delivery, more on redeliveries. */
  readonly deliveries: number;
  /** The stream entry's id, e.g. "1795601297784-0". */
  readonly streamId: string;
}

/** A new envelope around `payload`, with a fresh UUIDv7 and the current time. */
export function makeEnvelope<A extends Message>(event: EventType<A>, payload: A, source: string, meta: EventMeta = {}): Envelope {
  const id = Bun.randomUUIDv7();
  const trace = producerTraceContext(event.topic, id, meta);
  return create(EnvelopeSchema, {
    id,
    type: event.schema.typeName,
    source,
    time: timestampFromDate(new Date()),
    traceparent: trace.traceparent,
    tracestate: trace.tracestate,
    correlationId: meta.correlationId ?? "",
    payload: toBinary(event.schema, payload),
  });
}

/** The envelope's protobuf binary. */
export function encodeEnvelope(envelope: Envelope): Uint8Array {
  return toBinary(EnvelopeSchema, envelope);
}

/** Decodes an envelope; throws on bytes that are not one. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  return fromBinary(EnvelopeSchema, bytes);
}

/**
 * The event an entry of `event`'s stream holds, or why it holds none (no envelope, another
 * payload type, undecodable bytes).
 */
export function receiveEvent<A extends Message>(
  event: EventType<A>,
  entry: { readonly envelope: Uint8Array | undefined; readonly streamId: string; readonly deliveries: number },
  group: string,
): { readonly ok: true; readonly event: ReceivedEvent<A> } | { readonly ok: false; readonly reason: string } {
  if (entry.envelope === undefined) return { ok: false, reason: "the stream entry holds no envelope" };
  try {
    const envelope = decodeEnvelope(entry.envelope);
    if (envelope.type !== event.schema.typeName) {
      return { ok: false, reason: `payload type ${envelope.type} on topic ${event.topic}, expected ${event.schema.typeName}` };
    }
    return {
      ok: true,
      event: {
        id: envelope.id,
        type: envelope.type,
        source: envelope.source,
        time: envelopeTime(envelope),
        traceparent: envelope.traceparent,
        tracestate: envelope.tracestate,
        correlationId: envelope.correlationId,
        payload: fromBinary(event.schema, envelope.payload),
        topic: event.topic,
        group,
        deliveries: entry.deliveries,
        streamId: entry.streamId,
      },
    };
  } catch (e) {
    return { ok: false, reason: `undecodable event: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** The event time of an envelope, or the epoch when it has none. */
export function envelopeTime(envelope: Envelope): Date {
  return envelope.time === undefined ? new Date(0) : timestampDate(envelope.time);
}

// With tracing on, a producer span (child of the caller's context) is what consumers continue;
// with it off, the caller's context travels unchanged.
function producerTraceContext(topic: string, id: string, meta: EventMeta): { traceparent: string; tracestate: string } {
  const given = meta.traceparent === undefined ? activeTraceContext() : { traceparent: meta.traceparent, tracestate: meta.tracestate ?? "" };
  const span = startSpan(`${topic} publish`, "producer", given.traceparent === "" ? undefined : given, {
    "messaging.system": "meridian",
    "messaging.operation.type": "publish",
    "messaging.destination.name": topic,
    "messaging.message.id": id,
  });
  if (span === undefined) return given;
  const headers = traceHeadersOf(span, new Headers());
  span.end();
  return { traceparent: headers.traceparent ?? "", tracestate: headers.tracestate ?? "" };
}

// With no OpenTelemetry SDK registered, inject is a no-op and the fields stay empty.
function activeTraceContext(): { traceparent: string; tracestate: string } {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return { traceparent: carrier.traceparent ?? "", tracestate: carrier.tracestate ?? "" };
}
