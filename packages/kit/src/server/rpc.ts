/**
 * The start and end of every RPC, whatever path it came by: the call record
 * (correlation id, protocol), `x-request-id` back in the response, and when
 * the response has ended, one access-log line (method, protocol, code,
 * duration) and the server metrics.
 */
import { Code, ConnectError, createContextValues, type ContextValues } from "@connectrpc/connect";
import { codeFromString, codeToString } from "@connectrpc/connect/protocol-connect";
import type { UniversalHandler, UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import type { DescMethod } from "@bufbuild/protobuf";
import { isLogged, writeLogFields, type Level } from "../log.js";
import { metrics, type BoundHistogram, type BoundSeries } from "../telemetry/metrics.js";
import { endServerSpan, startServerSpan, tracingEnabled } from "../telemetry/tracing.js";
import { callRecordKey, correlationIdOf, logFieldsOf, protocolOf, type CallRecord, type PeerOf, type Protocol } from "./call.js";

const requests = metrics.counter("rpc_server_requests_total", "RPCs served, by method, protocol and code.", [
  "method",
  "protocol",
  "code",
]);
const durations = metrics.histogram("rpc_server_duration_seconds", "Time from request to end of response.", ["method"]);
const inFlight = metrics.gauge("rpc_server_in_flight", "RPCs being served now.", ["method"]);

/** A method's name and its bound metric series, made once per method. */
interface MethodTelemetry {
  readonly method: string;
  /** `"method":"…"` for the access log, made once. */
  readonly methodField: string;
  readonly names: { readonly service: string; readonly name: string };
  /** Health checks and reflection: logged at debug so probes do not drown the access log. */
  readonly infrastructure: boolean;
  readonly inFlight: BoundSeries;
  readonly duration: BoundHistogram;
  /** Per protocol and code: the request counter, and the access log's fields from method to duration's key. */
  readonly outcomes: Record<Protocol, Map<string, Outcome>>;
}

interface Outcome {
  readonly requests: Pick<BoundSeries, "inc">;
  /** `"method":…,"protocol":…,"code":…,"http_status":…,"duration_ms":` by HTTP status, made once. */
  readonly fields: Map<number, string>;
}

const telemetryByMethod = new WeakMap<DescMethod, MethodTelemetry>();

function telemetryOf(method: DescMethod): MethodTelemetry {
  let found = telemetryByMethod.get(method);
  if (found === undefined) {
    const labels = { method: `${method.parent.typeName}/${method.name}` };
    found = {
      method: labels.method,
      methodField: `"method":${JSON.stringify(labels.method)}`,
      names: { service: method.parent.typeName, name: method.name },
      infrastructure: method.parent.typeName.startsWith("grpc."),
      inFlight: inFlight.bind(labels),
      duration: durations.bind(labels),
      outcomes: { connect: new Map(), grpc: new Map(), "grpc-web": new Map() },
    };
    telemetryByMethod.set(method, found);
  }
  return found;
}

/** Opens the record of a call: its correlation id, its span (when tracing), counted in flight. */
export function startCall(method: DescMethod, header: Headers, protocol: Protocol, peer?: PeerOf): CallRecord {
  const telemetry = telemetryOf(method);
  telemetry.inFlight.inc();
  const correlationId = correlationIdOf(header);
  const span = tracingEnabled() ? startServerSpan(telemetry.names, protocol, header) : undefined;
  if (span !== undefined) return { correlationId, protocol, startedAt: performance.now(), peer, span };
  const traceparent = header.get("traceparent") ?? undefined;
  return { correlationId, protocol, startedAt: performance.now(), peer, traceparent };
}

let peerLogged: "all" | "errors" | "off" = "errors";

/** Sets which access-log lines carry the peer's address (LOG_PEER). */
export function configureAccessLog(options: { readonly peer: "all" | "errors" | "off" }): void {
  peerLogged = options.peer;
}

/** Closes the record of a call: metrics and one access-log line. */
export function endCall(method: DescMethod, record: CallRecord, httpStatus: number): void {
  const code = record.code ?? Code.Unknown;
  const telemetry = telemetryOf(method);
  const codeName = code === "ok" ? "ok" : codeToString(code);
  const seconds = (performance.now() - record.startedAt) / 1000;
  const byCode = telemetry.outcomes[record.protocol];
  let outcome = byCode.get(codeName);
  if (outcome === undefined) {
    outcome = { requests: requests.bind({ method: telemetry.method, protocol: record.protocol, code: codeName }), fields: new Map() };
    byCode.set(codeName, outcome);
  }
  outcome.requests.inc();
  telemetry.duration.observe(seconds);
  telemetry.inFlight.dec();
  if (record.span !== undefined) endServerSpan(record.span, code, record.correlationId);
  // A server fault is an error; a request refused before its handler ran (a 4xx such as 415) is the caller's.
  const clientRefused = httpStatus >= 400 && httpStatus < 500;
  const level: Level =
    (code === Code.Internal || code === Code.Unknown || code === Code.DataLoss) && !clientRefused
      ? "error"
      : telemetry.infrastructure
        ? "debug"
        : "info";
  if (!isLogged(level)) return;
  // Formatted by hand, once per request, in few pieces: method, protocol, code and status are made
  // once per outcome, and a correlation id is a UUID or passed correlationIdOf's check (no character
  // JSON escapes), so only the peer needs quoting here.
  let fields = outcome.fields.get(httpStatus);
  if (fields === undefined) {
    fields = `${telemetry.methodField},"protocol":"${record.protocol}","code":"${codeName}","http_status":${httpStatus},"duration_ms":`;
    outcome.fields.set(httpStatus, fields);
  }
  const peer = peerLogged === "all" || (peerLogged === "errors" && code !== "ok") ? record.peer?.() : undefined;
  writeLogFields(
    level,
    "rpc",
    `"correlation_id":"${record.correlationId}",${fields}${Math.round(seconds * 1e6) / 1000}` +
      traceFieldsJson(record) +
      (peer === undefined ? "" : `,"peer":${JSON.stringify(peer)}`) +
      (record.body === undefined ? "" : `,"request":${JSON.stringify(record.body)}`),
  );
}

/** `,"trace_id":…,"span_id":…` of the call's span, or of the caller's traceparent; empty when neither. */
function traceFieldsJson(record: CallRecord): string {
  if (record.span === undefined && record.traceparent === undefined) return "";
  const { trace_id, span_id } = logFieldsOf(record, record.traceparent);
  return trace_id === undefined ? "" : `,"trace_id":"${trace_id}","span_id":"${span_id}"`;
}

/**
 * Runs a Connect universal handler for a request built by `toRequest` (which
 * receives the call's context values); the call ends when its response body has.
 */
export async function serveRpc(
  handler: UniversalHandler,
  header: Headers,
  peer: PeerOf | undefined,
  toRequest: (contextValues: ContextValues) => UniversalServerRequest,
): Promise<UniversalServerResponse> {
  const record = startCall(handler.method, header, protocolOf(header.get("content-type")), peer);
  const values = createContextValues();
  values.set(callRecordKey, record);
  let response: UniversalServerResponse;
  try {
    response = await handler(toRequest(values));
  } catch (e) {
    record.code ??= ConnectError.from(e).code;
    endCall(handler.method, record, 500);
    throw e;
  }
  const responseHeader = new Headers(response.header);
  responseHeader.set("x-request-id", record.correlationId);
  if (response.body === undefined) {
    record.code ??= codeOf(response, responseHeader, undefined);
    endCall(handler.method, record, response.status);
    return { ...response, header: responseHeader };
  }
  return {
    ...response,
    header: responseHeader,
    body: observeBody(response.body, record.code === undefined && response.status !== 200, (errorBody) => {
      record.code ??= codeOf(response, responseHeader, errorBody);
      endCall(handler.method, record, response.status);
    }),
  };
}

/** Passes the body through, calling `onEnd` once when it ends or is abandoned; keeps the bytes of an error body. */
async function* observeBody(
  body: AsyncIterable<Uint8Array>,
  keep: boolean,
  onEnd: (errorBody: Uint8Array | undefined) => void,
): AsyncIterable<Uint8Array> {
  const kept: Uint8Array[] = [];
  try {
    for await (const chunk of body) {
      if (keep) kept.push(chunk);
      yield chunk;
    }
  } finally {
    onEnd(keep ? Buffer.concat(kept) : undefined);
  }
}

/** The code of a call that failed before its handler ran: from gRPC status headers or a Connect error body. */
function codeOf(response: UniversalServerResponse, header: Headers, errorBody: Uint8Array | undefined): Code | "ok" {
  const grpcStatus = header.get("grpc-status") ?? response.trailer?.get("grpc-status");
  if (grpcStatus !== null && grpcStatus !== undefined) {
    const n = Number(grpcStatus);
    return n === 0 ? "ok" : (n as Code);
  }
  if (response.status === 200) return "ok";
  if (errorBody !== undefined && errorBody.length > 0) {
    try {
      const parsed = JSON.parse(new TextDecoder().decode(errorBody)) as { code?: string };
      const code = parsed.code === undefined ? undefined : codeFromString(parsed.code);
      if (code !== undefined) return code;
    } catch {
      // not a Connect error body; fall through to the HTTP status
    }
  }
  return response.status === 404 ? Code.Unimplemented : response.status === 415 ? Code.Internal : Code.Unknown;
}
