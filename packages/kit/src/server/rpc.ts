/**
 * Serving one RPC through a Connect universal handler, whatever the listener:
 * the call record (correlation id, protocol) goes into the call's context
 * values, `x-request-id` goes back in the response, and when the response ends
 * one access-log line is written with the method, protocol, code and duration.
 */
import { Code, ConnectError, createContextValues, type ContextValues } from "@connectrpc/connect";
import { codeFromString, codeToString } from "@connectrpc/connect/protocol-connect";
import type { UniversalHandler, UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { writeLogLine, type Level } from "../log.js";
import { metrics } from "../telemetry/metrics.js";
import { callRecordKey, correlationIdOf, protocolOf, type CallRecord } from "./call.js";

/**
 * Runs the handler for a request built by `toRequest` (which receives the
 * call's context values) and logs the call once its response has ended.
 */
export async function serveRpc(
  handler: UniversalHandler,
  header: Headers,
  toRequest: (contextValues: ContextValues) => UniversalServerRequest,
): Promise<UniversalServerResponse> {
  const record: CallRecord = {
    correlationId: correlationIdOf(header),
    protocol: protocolOf(header.get("content-type")),
    startedAt: performance.now(),
  };
  inFlight.inc({ method: handler.requestPath.slice(1) });
  const values = createContextValues();
  values.set(callRecordKey, record);
  let response: UniversalServerResponse;
  try {
    response = await handler(toRequest(values));
  } catch (e) {
    record.code ??= ConnectError.from(e).code;
    logCall(handler.requestPath, record, 500);
    throw e;
  }
  const responseHeader = new Headers(response.header);
  responseHeader.set("x-request-id", record.correlationId);
  if (response.body === undefined) {
    record.code ??= codeOf(response, responseHeader, undefined);
    logCall(handler.requestPath, record, response.status);
    return { ...response, header: responseHeader };
  }
  return {
    ...response,
    header: responseHeader,
    body: observeBody(response.body, record.code === undefined && response.status !== 200, (errorBody) => {
      record.code ??= codeOf(response, responseHeader, errorBody);
      logCall(handler.requestPath, record, response.status);
    }),
  };
}

const requests = metrics.counter("rpc_server_requests_total", "RPCs served, by method, protocol and code.", [
  "method",
  "protocol",
  "code",
]);
const durations = metrics.histogram("rpc_server_duration_seconds", "Time from request to end of response.", ["method"]);
const inFlight = metrics.gauge("rpc_server_in_flight", "RPCs being served now.", ["method"]);

/** Writes the access-log line and the metrics of a finished call. */
function logCall(path: string, record: CallRecord, httpStatus: number): void {
  const code = record.code ?? Code.Unknown;
  const method = path.slice(1);
  const codeName = code === "ok" ? "ok" : codeToString(code);
  const seconds = (performance.now() - record.startedAt) / 1000;
  requests.inc({ method, protocol: record.protocol, code: codeName });
  durations.observe({ method }, seconds);
  inFlight.dec({ method });
  const level: Level = code === Code.Internal || code === Code.Unknown || code === Code.DataLoss ? "error" : "info";
  writeLogLine(level, "rpc", {
    correlation_id: record.correlationId,
    method,
    protocol: record.protocol,
    code: codeName,
    http_status: httpStatus,
    duration_ms: Math.round(seconds * 1e6) / 1000,
  });
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
