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
import { create, fromBinary, fromJsonString, toBinary, toJsonString, type DescMessage } from "@bufbuild/protobuf";
import type { CallRecord, PeerOf } from "./call.js";
import type { UnaryRoute } from "./routes.js";
import { endCall, startCall } from "./rpc.js";

const jsonRead = { ignoreUnknownFields: true } as const;
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
    return serve(route, request, peer, encoding, maxMessageBytes, timeoutMs, readBody(request, encoding, maxMessageBytes));
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
    return serve(route, request, peer, encoding, maxMessageBytes, timeoutMs, Promise.resolve(bytes));
  }
  return undefined;
}

function encodingOfContentType(contentType: string | null): Encoding | undefined {
  if (contentType === "application/json" || contentType === "application/json; charset=utf-8") return "json";
  if (contentType === "application/proto") return "proto";
  return undefined;
}

/** The body, as text for JSON (the runtime decodes UTF-8 natively) and bytes for binary; never over the limit. */
async function readBody(request: Request, encoding: Encoding, maxMessageBytes: number): Promise<Uint8Array | string> {
  const declared = Number(request.headers.get("content-length") ?? -1);
  if (declared > maxMessageBytes) throw tooLarge(declared, maxMessageBytes);
  if (encoding === "json") {
    const text = await request.text();
    // A string's UTF-8 size is at most 3 bytes per UTF-16 unit: count exactly only when it could matter.
    if (text.length * 3 > maxMessageBytes && Buffer.byteLength(text) > maxMessageBytes) {
      throw tooLarge(Buffer.byteLength(text), maxMessageBytes);
    }
    return text;
  }
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.byteLength > maxMessageBytes) throw tooLarge(bytes.byteLength, maxMessageBytes);
  return bytes;
}

function tooLarge(size: number, max: number): ConnectError {
  return new ConnectError(`message size ${size} is larger than configured readMaxBytes ${max}`, Code.ResourceExhausted);
}

async function serve(
  route: UnaryRoute,
  request: Request,
  peer: PeerOf | undefined,
  encoding: Encoding,
  maxMessageBytes: number,
  timeoutMs: number | undefined,
  body: Promise<Uint8Array | string>,
): Promise<Response> {
  const requestHeader = request.headers;
  const record: CallRecord = startCall(route.method, requestHeader, "connect", peer);
  let responseHeader: Headers | undefined;
  try {
    const input = decode(route.method.input, encoding, await body);
    const output = await route.invoke(input, {
      record,
      requestHeader,
      responseHeader: () => (responseHeader ??= new Headers()),
      signal: request.signal,
      timeoutMs,
    });
    const message = create(route.method.output, output as Record<string, unknown>);
    const payload = encoding === "json" ? toJsonString(route.method.output, message) : toBinary(route.method.output, message);
    const size = typeof payload === "string" ? Buffer.byteLength(payload) : payload.byteLength;
    if (size > maxMessageBytes) throw tooLarge(size, maxMessageBytes);
    const headers = responseHeaders(responseHeader, record, encoding === "json" ? "application/json" : "application/proto");
    endCall(route.method, record, 200);
    return new Response(payload as string | Uint8Array<ArrayBuffer>, { status: 200, headers });
  } catch (e) {
    const error = ConnectError.from(e);
    record.code ??= error.code;
    const headers = new Headers(responseHeaders(responseHeader, record, "application/json"));
    error.metadata.forEach((value, key) => void headers.set(key, value));
    const status = codeToHttpStatus(error.code);
    endCall(route.method, record, status);
    return new Response(errorToJsonBytes(error, {}) as Uint8Array<ArrayBuffer>, { status, headers });
  }
}

function decode(schema: DescMessage, encoding: Encoding, body: Uint8Array | string) {
  try {
    if (encoding === "proto") return fromBinary(schema, typeof body === "string" ? Buffer.from(body) : body);
    const text = typeof body === "string" ? body : textDecoder.decode(body);
    return fromJsonString(schema, text === "" ? "{}" : text, jsonRead);
  } catch (e) {
    throw new ConnectError(`cannot decode request: ${e instanceof Error ? e.message : String(e)}`, Code.InvalidArgument);
  }
}

function responseHeaders(extra: Headers | undefined, record: CallRecord, contentType: string): Headers | Record<string, string> {
  if (extra === undefined) return { "content-type": contentType, "x-request-id": record.correlationId };
  const headers = new Headers(extra);
  headers.set("content-type", contentType);
  headers.set("x-request-id", record.correlationId);
  return headers;
}
