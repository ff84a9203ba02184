/**
 * What an outgoing call carries from the call being served: its correlation
 * id (`x-request-id`), its trace context (W3C `traceparent`/`tracestate`) and
 * what is left of its deadline. Outside a served call: a new id and a new trace.
 */
import type { RequestInfo } from "../server/call.js";

/** The headers and deadline to send with a call. */
export interface Outgoing {
  readonly headers: HeadersInit;
  readonly timeoutMs: number;
}

/**
 * Merges the current request (if any) into a call's options: the caller's own
 * headers win; the deadline is the shorter of the call's (`timeoutMs`, its own
 * or the method's default) and what the request being served has left.
 */
export function outgoing(
  request: RequestInfo | undefined,
  headersInit: HeadersInit | undefined,
  timeoutMs: number,
  /** The client span's context, when tracing records one; otherwise the request's trace is passed on. */
  span?: TraceHeaders,
): Outgoing {
  const left = request === undefined ? Number.POSITIVE_INFINITY : request.remainingMs();
  // Whole milliseconds, rounded down: never promise the downstream more time than the caller has.
  const deadline = left < timeoutMs ? Math.max(0, Math.floor(left)) : timeoutMs;
  const trace = span ?? traceOf(request);
  const traceparent =
    trace.traceparent !== undefined && traceparentPattern.test(trace.traceparent) ? trace.traceparent : newTraceparent();
  const tracestate = trace.traceparent === traceparent ? trace.tracestate : undefined;
  const correlationId = request?.correlationId ?? crypto.randomUUID();
  if (headersInit === undefined) {
    // The common case, kept to a plain record: Headers objects cost more than the call's other bookkeeping.
    const headers: Record<string, string> = { "x-request-id": correlationId, traceparent };
    if (tracestate !== undefined) headers.tracestate = tracestate;
    return { headers, timeoutMs: deadline };
  }
  const headers = new Headers(headersInit);
  if (!headers.has("x-request-id")) headers.set("x-request-id", correlationId);
  // A client span's context replaces the caller's (whose traceparent became its parent).
  if (span !== undefined || !headers.has("traceparent")) {
    headers.set("traceparent", traceparent);
    if (tracestate !== undefined) headers.set("tracestate", tracestate);
    else headers.delete("tracestate");
  }
  return { headers, timeoutMs: deadline };
}

/** A traceparent starting a new sampled trace (random ids, from the runtime's fast UUID source). */
export function newTraceparent(): string {
  const t = crypto.randomUUID(); // xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx
  const s = crypto.randomUUID();
  return `00-${t.slice(0, 8)}${t.slice(9, 13)}${t.slice(14, 18)}${t.slice(19, 23)}${t.slice(24)}-${s.slice(0, 8)}${s.slice(9, 13)}${s.slice(14, 18)}-01`;
}

const traceparentPattern = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

/** W3C trace context headers. */
export interface TraceHeaders {
  readonly traceparent?: string | undefined;
  readonly tracestate?: string | undefined;
}

/**
 * The trace context of the served call: the server's span when tracing is on
 * (the request's `traceHeaders`), else the caller's headers as received; empty outside a request.
 */
export function traceOf(request: RequestInfo | undefined): TraceHeaders {
  if (request === undefined) return {};
  return request.traceHeaders();
}
