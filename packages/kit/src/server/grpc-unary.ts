/**
 * The gRPC unary fast path: the common case of gRPC between services (a POST
 * with `application/grpc` or `application/grpc+proto`, no compression, one
 * length-prefixed message) answered straight from node:http2's request and
 * response, without connect's generic stream machinery. The same invoker, call
 * record, access log and metrics as every other path; headers, one DATA frame
 * and trailers as connect's gRPC handler writes them (`setTrailerStatus`).
 * Anything else (streams, gRPC-Web, Connect over HTTP/2, compression, a bad
 * grpc-timeout) returns undefined before reading; a body that is not exactly one
 * uncompressed message is handed back, as read, for the generic handler to answer.
 */
import * as http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { CallRecord, PeerOf } from "./call.js";
import type { UnaryRoute } from "./routes.js";
import { FastPathCall, invokeRoute, tooLarge } from "./fast-path.js";
import { endCall, startCall } from "./rpc.js";

/** What the fast path read but will not answer: the generic handler gets these bytes, then the rest of the request. */
export interface GrpcFallback {
  readonly read: Uint8Array;
  /** True when the request was read to its end. */
  readonly ended: boolean;
}

/**
 * Serves the request if it is plain unary gRPC. Undefined: not for this path, nothing read (use
 * the generic handler). A promise of a {@link GrpcFallback}: the body is not one uncompressed
 * message; the generic handler answers with what was read. A promise of undefined: answered.
 */
export function serveGrpcUnary(
  route: UnaryRoute,
  req: http2.Http2ServerRequest,
  res: http2.Http2ServerResponse,
  header: Headers,
  maxMessageBytes: number,
  peer?: PeerOf,
): Promise<GrpcFallback | undefined> | undefined {
  if (req.method !== "POST") return undefined;
  const contentType = req.headers["content-type"];
  if (contentType !== "application/grpc" && contentType !== "application/grpc+proto") return undefined;
  const encoding = req.headers["grpc-encoding"];
  if (encoding !== undefined && encoding !== "identity") return undefined;
  const timeout = req.headers["grpc-timeout"];
  let timeoutMs: number | undefined;
  if (timeout !== undefined) {
    const parsed = parseTimeout(typeof timeout === "string" ? timeout : String(timeout), Number.MAX_SAFE_INTEGER);
    if (parsed.error !== undefined) return undefined; // connect's handler says what is wrong
    timeoutMs = parsed.timeoutMs;
  }
  return serve(route, req, res, header, maxMessageBytes, timeoutMs, peer);
}

/** The web Headers of a node:http2 request, without its pseudo-headers. */
export function headersOf(req: http2.Http2ServerRequest): Headers {
  const header = new Headers();
  const raw = req.headers;
  for (const key in raw) {
    const value = raw[key];
    if (key.charCodeAt(0) === 58 /* ":" */ || value === undefined) continue;
    header.set(key, Array.isArray(value) ? value.join(", ") : value);
  }
  return header;
}

/** What reading the request gave: one message, a body the generic handler must see, or a declared size over the limit. */
type Read =
  | { readonly kind: "message"; readonly bytes: Uint8Array }
  | { readonly kind: "fallback"; readonly read: Uint8Array; readonly ended: boolean }
  | { readonly kind: "tooLarge"; readonly size: number }
  | { readonly kind: "gone" };

/**
 * Reads the request's body until it ends, or until it is plain it is not one message: a declared
 * length over the limit (answered at once, as connect does, without reading the rest) or more bytes
 * than the declared message (handed back, the rest left unread).
 */
function readMessage(req: http2.Http2ServerRequest, maxMessageBytes: number): Promise<Read> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let declared = -1;
    const done = (read: Read) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("close", onClose);
      req.off("error", onClose);
      resolve(read);
    };
    const joined = () => (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.byteLength;
      if (declared < 0 && size >= 5) {
        const head = chunks[0]!.byteLength >= 5 ? chunks[0]! : joined();
        declared = head.readUInt32BE(1);
        if (declared > maxMessageBytes) return done({ kind: "tooLarge", size: declared });
      }
      if (declared >= 0 && size > 5 + declared) {
        req.pause();
        done({ kind: "fallback", read: joined(), ended: false });
      }
    };
    const onEnd = () => {
      const body = size === 0 ? new Uint8Array(0) : joined();
      done(declared >= 0 && size === 5 + declared && body[0] === 0 ? { kind: "message", bytes: body.subarray(5) } : { kind: "fallback", read: body, ended: true });
    };
    const onClose = () => done({ kind: "gone" });
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("close", onClose);
    req.once("error", onClose);
  });
}

/**
 * What the invoker sees of a fast-path call. The AbortSignal (the client reset or closed the
 * stream before the answer) is made only when something asks for it.
 */
class Http2Call extends FastPathCall {
  private controller: AbortController | undefined;
  answered = false;
  constructor(
    private readonly res: http2.Http2ServerResponse,
    requestHeader: Headers,
    record: CallRecord,
    timeoutMs: number | undefined,
  ) {
    super(requestHeader, record, timeoutMs);
  }
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      const controller = (this.controller = new AbortController());
      const stream = this.res.stream;
      const onClose = () => {
        if (!this.answered) controller.abort(new ConnectError("the client closed the stream", Code.Canceled));
      };
      if (stream.closed || stream.destroyed) onClose();
      else stream.once("close", onClose);
    }
    return this.controller.signal;
  }
}

const contentTypeProto = "application/grpc+proto";

async function serve(
  route: UnaryRoute,
  req: http2.Http2ServerRequest,
  res: http2.Http2ServerResponse,
  header: Headers,
  maxMessageBytes: number,
  timeoutMs: number | undefined,
  peer: PeerOf | undefined,
): Promise<GrpcFallback | undefined> {
  const read = await readMessage(req, maxMessageBytes);
  if (read.kind === "fallback") return { read: read.read, ended: read.ended };
  if (read.kind === "gone") return undefined;
  const record: CallRecord = startCall(route.method, header, "grpc", peer);
  const call = new Http2Call(res, header, record, timeoutMs);
  try {
    if (read.kind === "tooLarge") throw tooLarge(read.size, maxMessageBytes);
    const input = decode(route, read.bytes);
    let output = invokeRoute(route, input, call);
    if (output instanceof Promise) output = await output;
    const payload = toBinary(route.method.output, create(route.method.output, output as never));
    if (payload.byteLength > maxMessageBytes) throw tooLarge(payload.byteLength, maxMessageBytes, "writeMaxBytes");
    const frame = encodeEnvelope(0, payload);
    call.answered = true;
    if (res.stream.closed || res.stream.destroyed) {
      endCall(route.method, record, 200);
      return undefined;
    }
    res.writeHead(200, responseHeaders(call.extraHeaders, record));
    res.addTrailers(okTrailers);
    res.end(frame);
    endCall(route.method, record, 200);
  } catch (e) {
    const error = ConnectError.from(e);
    record.code ??= error.code;
    call.answered = true;
    if (!res.stream.closed && !res.stream.destroyed) {
      res.writeHead(200, responseHeaders(call.extraHeaders, record));
      res.addTrailers(nodeHeaders(setTrailerStatus(new Headers(), error)));
      res.end();
      if (read.kind === "tooLarge") resetIfUnread(req, res);
    }
    endCall(route.method, record, 200);
  }
  return undefined;
}

const okTrailers = { "grpc-status": "0" };

function decode(route: UnaryRoute, bytes: Uint8Array) {
  try {
    return fromBinary(route.method.input, bytes);
  } catch (e) {
    // As connect's binary serialization reports it.
    throw new ConnectError(`parse binary: ${e instanceof Error ? e.message : String(e)}`, Code.Internal);
  }
}

/** The response headers: content type, the handler's headers, the correlation id. */
function responseHeaders(extra: Headers | undefined, record: CallRecord): Record<string, string> {
  if (extra === undefined) return { "content-type": contentTypeProto, "x-request-id": record.correlationId };
  const headers = new Headers(extra);
  headers.set("content-type", contentTypeProto);
  headers.set("x-request-id", record.correlationId);
  return nodeHeaders(headers);
}

function nodeHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, key) => void (out[key] = value));
  return out;
}

/**
 * After an answer sent before the request was read to its end (a message over the limit), resets
 * the stream with NO_ERROR (RFC 9113 section 8.1): otherwise it stays half-open and holds shutdown.
 */
export function resetIfUnread(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void {
  setImmediate(() => {
    if (!req.readableEnded && !res.stream.closed) res.stream.close(http2.constants.NGHTTP2_NO_ERROR);
  });
}
