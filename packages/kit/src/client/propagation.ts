/**
 * What an outgoing call carries from the call being served: its correlation
 * id (`x-request-id`), its trace context (W3C `traceparent`/`tracestate`) and
 * what is left of its deadline. Outside a served call: a new id and a new trace.
 */
import type { RequestInfo } from "../server/call.js";

/** The headers and deadline to send with a call. */
export interface Outgoing {
  readonly headers: Headers;
  readonly timeoutMs: number;
}

/**
 * Merges the current request (if any) into a call's options: the caller's own
 * headers win; the deadline is the shorter of the call's (`timeoutMs`, its own
 * or the method's default) and what the request being served has left.
 */
export function outgoing(request: RequestInfo | undefined, headersInit: HeadersInit | undefined, timeoutMs: number): Outgoing {
  const headers = new Headers(headersInit);
  if (!headers.has("x-request-id")) headers.set("x-request-id", request?.correlationId ?? crypto.randomUUID());
  if (!headers.has("traceparent")) {
    const trace = traceOf(request);
    if (trace.traceparent !== undefined && traceparentPattern.test(trace.traceparent)) {
      headers.set("traceparent", trace.traceparent);
      if (trace.tracestate !== undefined) headers.set("tracestate", trace.tracestate);
    } else {
      headers.set("traceparent", newTraceparent());
    }
  }
  const left = request === undefined ? Number.POSITIVE_INFINITY : request.remainingMs();
  // Whole milliseconds, rounded down: never promise the downstream more time than the caller has.
  return { headers, timeoutMs: left < timeoutMs ? Math.max(0, Math.floor(left)) : timeoutMs };
}

/** A traceparent starting a new sampled trace. */
export function newTraceparent(): string {
  return `00-${randomHex(16)}-${randomHex(8)}-01`;
}

const traceparentPattern = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * The trace context of the served call: the server's span when tracing is on
 * (the request's `traceHeaders`, where the server provides it), else the caller's headers as received.
 */
function traceOf(request: RequestInfo | undefined): { traceparent?: string | undefined; tracestate?: string | undefined } {
  if (request === undefined) return {};
  const fromServer = (request as { traceHeaders?: () => Record<string, string> }).traceHeaders?.();
  if (fromServer !== undefined) return fromServer;
  return {
    traceparent: request.requestHeader.get("traceparent") ?? undefined,
    tracestate: request.requestHeader.get("tracestate") ?? undefined,
  };
}

function randomHex(bytes: number): string {
  const values = crypto.getRandomValues(new Uint8Array(bytes));
  let hex = "";
  for (const value of values) hex += value.toString(16).padStart(2, "0");
  return hex;
}
