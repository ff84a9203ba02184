/**
 * The Connect unary fast path: the common case of the Connect protocol (a
 * unary POST with an uncompressed JSON or binary body, or a GET for a method
 * without side effects) answered straight from the Fetch Request, without the
 * generic stream machinery. Anything else (compression, streaming, gRPC-Web,
 * odd headers) returns undefined and takes Connect's own handler, so behaviour
 * stays Connect's; both paths run the same invoker, call record and access log.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { CallRecord, PeerOf } from "./call.js";
import type { UnaryRoute } from "./routes.js";
import { FastPathCall, invokeRoute, tooLarge } from "./fast-path.js";
import { endCall, startCall } from "./rpc.js";

const textDecoder = new TextDecoder();

type Encoding = "json" | "proto";

/** Serves the request if it is plain Connect unary; otherwise undefined (use the generic handler). */
export function serveConnectUnary(
  route: UnaryRoute,
  request: Request,
  maxMessageBytes: number,
  peer?: PeerOf,
): Promise<Response> | undefined {
  const header = request.headers;
  const version = header.get("connect-protocol-version");
  if (version !== null && version !== "1") return undefined;
  const timeout = header.get("connect-timeout-ms");
  if (timeout !== null && !/^\d{1,10}$/.test(timeout)) return undefined; // Connect's handler says what is wrong
  const timeoutMs = timeout === null ? undefined : Number(timeout);
  if (request.method === "POST") {
    const encoding = encodingOfContentType(header.get("content-type"));
    if (encoding === undefined) return undefined;
    const contentEncoding = header.get("content-encoding");
    if (contentEncoding !== null && contentEncoding !== "identity") return undefined;
    return serve(route, request, peer, encoding, maxMessageBytes, timeoutMs, undefined);
  }
  if (request.method === "GET" && route.method.idempotency === 1 /* NO_SIDE_EFFECTS */) {
    const query = new URL(request.url).searchParams;
    const encoding = query.get("encoding");
    if (encoding !== "json" && encoding !== "proto") return undefined;
    const compression = query.get("compression");
    if (compression !== null && compression !== "identity") return undefined;
    const message = query.get("message") ?? "";
    const bytes =
      query.get("base64") === "1" ? Buffer.from(message, "base64url") : new TextEncoder().encode(message);
    return serve(route, request, peer, encoding, maxMessageBytes, timeoutMs, bytes);
  }
  return undefined;
}

function encodingOfContentType(contentType: string | null): Encoding | undefined {
  if (contentType === "application/json" || contentType === "application/json; charset=utf-8") return "json";
  if (contentType === "application/proto") return "proto";
  return undefined;
}

/** Refuses a body whose declared length is over the limit, before reading it. */
function checkDeclaredLength(header: Headers, maxMessageBytes: number): void {
  const declared = Number(header.get("content-length") ?? -1);
  if (declared > maxMessageBytes) throw tooLarge(declared, maxMessageBytes);
}

/** Refuses a body over the limit (a JSON text's UTF-8 size is counted only when it could matter: ≤ 3 bytes per unit). */
function checkSize(body: Uint8Array | string, maxMessageBytes: number): void {
  const size = typeof body !== "string" ? body.byteLength : body.length * 3 > maxMessageBytes ? Buffer.byteLength(body) : 0;
  if (size > maxMessageBytes) throw tooLarge(size, maxMessageBytes);
}

/** What the invoker sees of a fast-path call: the request's own AbortSignal, asked for only when needed. */
class FetchCall extends FastPathCall {
  constructor(
    private readonly request: Request,
    requestHeader: Headers,
    record: CallRecord,
    timeoutMs: number | undefined,
  ) {
    super(requestHeader, record, timeoutMs);
  }
  get signal(): AbortSignal {
    return this.request.signal;
  }
}

async function serve(
  route: UnaryRoute,
  request: Request,
  peer: PeerOf | undefined,
  encoding: Encoding,
  maxMessageBytes: number,
  timeoutMs: number | undefined,
  query: Uint8Array | undefined,
): Promise<Response> {
  const requestHeader = request.headers;
  const record: CallRecord = startCall(route.method, requestHeader, "connect", peer);
  const call = new FetchCall(request, requestHeader, record, timeoutMs);
  try {
    let body: Uint8Array | string;
    if (query !== undefined) body = query;
    else {
      checkDeclaredLength(requestHeader, maxMessageBytes);
      // The runtime decodes UTF-8 natively: JSON is read as text, binary as bytes.
      body = encoding === "json" ? await request.text() : new Uint8Array(await request.arrayBuffer());
      checkSize(body, maxMessageBytes);
    }
    const input = decode(route, encoding, body);
    let output = invokeRoute(route, input, call);
    if (output instanceof Promise) output = await output;
    const payload = encoding === "json" ? route.outputJson.encode(output) : toBinary(route.method.output, create(route.method.output, output as never));
    checkSize(payload, maxMessageBytes);
    const extra = call.extraHeaders;
    const contentType = encoding === "json" ? "application/json" : "application/proto";
    const response = new Response(
      payload as string | Uint8Array<ArrayBuffer>,
      // Two headers by literal (the runtime builds them natively); a Headers copy only when the handler set some.
      extra === undefined ? { headers: { "content-type": contentType, "x-request-id": record.correlationId } } : { headers: withCallHeaders(extra, record, contentType) },
    );
    endCall(route.method, record, 200);
    return response;
  } catch (e) {
    const error = ConnectError.from(e);
    record.code ??= error.code;
    const headers = withCallHeaders(call.extraHeaders ?? new Headers(), record, "application/json");
    error.metadata.forEach((value, key) => void headers.set(key, value));
    const status = codeToHttpStatus(error.code);
    endCall(route.method, record, status);
    return new Response(errorToJsonBytes(error, {}) as Uint8Array<ArrayBuffer>, { status, headers });
  }
}

function decode(route: UnaryRoute, encoding: Encoding, body: Uint8Array | string) {
  try {
    if (encoding === "proto") return fromBinary(route.method.input, typeof body === "string" ? Buffer.from(body) : body);
    const text = typeof body === "string" ? body : textDecoder.decode(body);
    return route.inputJson.decode(text === "" ? "{}" : text);
  } catch (e) {
    throw new ConnectError(`cannot decode request: ${e instanceof Error ? e.message : String(e)}`, Code.InvalidArgument);
  }
}

/** The handler's response headers (copied), with the content type and correlation id. */
function withCallHeaders(extra: Headers, record: CallRecord, contentType: string): Headers {
  const headers = new Headers(extra);
  headers.set("content-type", contentType);
  headers.set("x-request-id", record.correlationId);
  return headers;
}
