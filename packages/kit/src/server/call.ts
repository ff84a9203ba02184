/**
 * One RPC as the kit sees it: who called (correlation id), how (protocol),
 * and how it ended (code). The listener creates the record, the handler
 * adapter fills in the outcome, and the access log writes it once.
 */
import { createContextKey, type Code, type HandlerContext } from "@connectrpc/connect";
import type { Span } from "@opentelemetry/api";
import { Context } from "effect";

/** Tells the client's "address:port" on demand (reading it costs a little on every request). */
export type PeerOf = () => string | undefined;

/** The wire protocol of a call, told from its content type. */
export type Protocol = "connect" | "grpc" | "grpc-web";

/** The mutable record of one call, shared by the listener, the adapter and the access log. */
export interface CallRecord {
  readonly correlationId: string;
  readonly protocol: Protocol;
  readonly startedAt: number;
  /** Set by the handler adapter when the handler ran; undefined if the call failed before it. */
  code?: Code | "ok";
  /** The client's "address:port", when the listener knows it; asked only when the line is logged. */
  readonly peer?: PeerOf | undefined;
  /** The request as redacted JSON, for methods whose bodies are logged. */
  body?: unknown;
  /** The caller's `traceparent`, kept for the log when tracing is off. */
  readonly traceparent?: string | undefined;
  /** The call's server span, when tracing is on. */
  readonly span?: Span;
}

/** Where the listener puts the call record for the handler adapter to find. */
export const callRecordKey = createContextKey<CallRecord | undefined>(undefined, { description: "meridian call record" });

/** What a handler may read about the call it serves. */
export interface RequestInfo {
  readonly correlationId: string;
  readonly protocol: Protocol;
  /** The fully qualified method, e.g. "meridian.universe.v1.UniverseService/GetSecurity". */
  readonly method: string;
  readonly requestHeader: Headers;
  /** Headers to send back; set them before the handler finishes. */
  readonly responseHeader: Headers;
  /** Aborts when the client goes away, the deadline passes or the server shuts down. */
  readonly signal: AbortSignal;
  /** Milliseconds left until the call's deadline (already capped by the server). */
  readonly remainingMs: () => number;
  /** `traceparent`/`tracestate` to put on outgoing calls and events made for this call. */
  readonly traceHeaders: () => Record<string, string>;
  /** What every log line written for this call carries: correlation id, and trace and span ids when known. */
  readonly logFields: () => Record<string, string>;
}

/** The current call, in every handler's context. */
export class RequestContext extends Context.Service<RequestContext, RequestInfo>()("@meridian/kit/RequestContext") {}

/**
 * The log fields of a call: its correlation id, and the trace and span ids of its span (tracing
 * on) or of the caller's `traceparent` (tracing off).
 */
export function logFieldsOf(record: CallRecord, traceparent: string | null | undefined): Record<string, string> {
  const fields: Record<string, string> = { correlation_id: record.correlationId };
  if (record.span !== undefined) {
    const context = record.span.spanContext();
    fields.trace_id = context.traceId;
    fields.span_id = context.spanId;
    return fields;
  }
  const parent = /^[\da-f]{2}-([\da-f]{32})-([\da-f]{16})-[\da-f]{2}$/.exec(traceparent ?? "");
  if (parent !== null) {
    fields.trace_id = parent[1]!;
    fields.span_id = parent[2]!;
  }
  return fields;
}

/** Tells the protocol from a content type; anything not gRPC is Connect. */
export function protocolOf(contentType: string | null): Protocol {
  if (contentType === null || !contentType.startsWith("application/grpc")) return "connect";
  return contentType.startsWith("application/grpc-web") ? "grpc-web" : "grpc";
}

/** The correlation id of a request: its `x-request-id` when it is sane, otherwise a new UUID. */
export function correlationIdOf(header: Headers): string {
  const given = header.get("x-request-id");
  return given !== null && /^[\w.:@/+=-]{1,128}$/.test(given) ? given : crypto.randomUUID();
}

/** The call record of a handler's context, or a fresh one when the call did not come through a kit listener. */
export function callRecordOf(context: HandlerContext): CallRecord {
  const existing = context.values.get(callRecordKey);
  if (existing !== undefined) return existing;
  const created: CallRecord = {
    correlationId: correlationIdOf(context.requestHeader),
    protocol: protocolOf(context.requestHeader.get("content-type")),
    startedAt: performance.now(),
  };
  // Not through a kit listener (e.g. a bare Connect router): no span, no access log.
  context.values.set(callRecordKey, created);
  return created;
}
