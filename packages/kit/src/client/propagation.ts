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

/** A traceparent starting a new sampled trace: random ids (a 16-byte trace id, an 8-byte span id). */
export function newTraceparent(): string {
  return `00-${randomHex(16)}-${randomHex(8)}-01`;
}

/** Random bytes drawn a pool at a time: one getRandomValues per 170 traces, not two UUIDs per trace. */
const pool = new Uint8Array(4096);
let poolAt = pool.length;
const hexOfByte = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

function randomHex(bytes: number): string {
  if (poolAt + bytes > pool.length) {
    crypto.getRandomValues(pool);
    poolAt = 0;
  }
  let hex = "";
  let zero = true;
  for (let i = 0; i < bytes; i++) {
    const byte = pool[poolAt++]!;
    if (byte !== 0) zero = false;
    hex += hexOfByte[byte];
  }
  // W3C: an all-zero id is invalid (one chance in 2⁶⁴ or more; draw again).
  return zero ? randomHex(bytes) : hex;
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
