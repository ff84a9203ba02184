/**
 * A gRPC transport whose unary calls skip connect-node's stream machinery:
 * the request is serialized and enveloped at once and written on an HTTP/2
 * stream of the shared session manager; the answer is read in one piece
 * (headers, one DATA message, trailers) and checked with connect's own gRPC
 * rules (`validateResponse`, `validateTrailer`, `findTrailerError`), so
 * deadlines (`grpc-timeout`), interceptors, headers, trailers and typed
 * errors with details behave as connect's gRPC transport; calls run by the
 * SDK's `runUnary` (./unary-call.ts). Server streams go to connect-node's gRPC
 * transport on the same session.
 */
import type * as http2 from "node:http2";
import { Code, ConnectError, type Interceptor, type Transport, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { createMethodUrl, encodeEnvelope } from "@connectrpc/connect/protocol";
import { headerGrpcStatus, requestHeader, validateResponse, validateTrailer } from "@connectrpc/connect/protocol-grpc";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { fromBinary, toBinary, type DescMessage, type DescMethodUnary } from "@bufbuild/protobuf";
import { leanUnary } from "./unary-call.js";

/** What the transport needs; the same names as connect-node's gRPC transport options. */
export interface GrpcUnaryTransportOptions {
  readonly baseUrl: string;
  readonly interceptors?: ReadonlyArray<Interceptor>;
  readonly defaultTimeoutMs?: number;
}

/** A binary gRPC transport: unary calls on the lean path, server streams through connect-node; one HTTP/2 session. */
export function createGrpcUnaryTransport(options: GrpcUnaryTransportOptions): Transport {
  const sessionManager = new Http2SessionManager(options.baseUrl);
  const interceptors = [...(options.interceptors ?? [])];
  const streaming = createGrpcTransport({
    baseUrl: options.baseUrl,
    interceptors,
    sessionManager,
    ...(options.defaultTimeoutMs === undefined ? {} : { defaultTimeoutMs: options.defaultTimeoutMs }),
  });
  return {
    unary: leanUnary({
      interceptors,
      defaultTimeoutMs: options.defaultTimeoutMs,
      send: (req) => call(sessionManager, req),
      urlOf: (method) => createMethodUrl(options.baseUrl, method),
      headerOf: (_, timeoutMs, header) => requestHeader(true, timeoutMs, header),
    }),
    stream: (...args) => streaming.stream(...args),
  };
}

/** What came back on one stream. */
interface Answer {
  readonly status: number;
  readonly header: Headers;
  readonly body: Uint8Array;
  readonly trailer: Headers;
}

async function call<I extends DescMessage, O extends DescMessage>(
  sessionManager: Http2SessionManager,
  req: UnaryRequest<I, O>,
): Promise<UnaryResponse<I, O>> {
  const method = req.method as DescMethodUnary<I, O>;
  const answer = await exchange(sessionManager, req, encodeEnvelope(0, toBinary(method.input, req.message)));
  const { headerError } = validateResponse(answer.status, answer.header);
  const message = parseMessage(method.output, answer.body);
  validateTrailer(answer.trailer, answer.header);
  if (message === undefined) {
    // Trailers only
    if (headerError) throw headerError;
    throw new ConnectError(
      "protocol error: missing output message for unary method",
      answer.trailer.has(headerGrpcStatus) ? Code.Unimplemented : Code.Unknown,
    );
  }
  if (headerError) throw new ConnectError("protocol error: received output message for unary method with error status", Code.Unknown);
  return { stream: false, service: method.parent, method, header: answer.header, message, trailer: answer.trailer } as UnaryResponse<I, O>;
}

/** The one message of a unary answer, undefined when there is none; as connect's envelope reader refuses what it refuses. */
function parseMessage<O extends DescMessage>(schema: O, body: Uint8Array) {
  if (body.byteLength === 0) return undefined;
  if (body.byteLength < 5) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const length = view.getUint32(1);
  if (body.byteLength < 5 + length) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  if (body.byteLength > 5 + length) throw new ConnectError("protocol error: received extra output message for unary method", Code.Unimplemented);
  if ((body[0]! & 0b01) === 0b01) throw new ConnectError("received compressed envelope, but do not know how to decompress", Code.Internal);
  try {
    return fromBinary(schema, body.subarray(5));
  } catch (e) {
    throw new ConnectError(`parse binary: ${e instanceof Error ? e.message : String(e)}`, Code.Internal);
  }
}

/** Sends the request on a stream of the session and reads the whole answer; rejects as connect-node would. */
function exchange(sessionManager: Http2SessionManager, req: UnaryRequest, frame: Uint8Array): Promise<Answer> {
  const url = new URL(req.url);
  if (url.origin !== sessionManager.authority) {
    return Promise.reject(
      new ConnectError(`cannot make a request to ${url.origin}: the http2 session is connected to ${sessionManager.authority}`, Code.Internal),
    );
  }
  const signal = req.signal;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<Answer>((resolve, reject) => {
    let stream: http2.ClientHttp2Stream | undefined;
    let settled = false;
    const fail = (reason: unknown) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      reject(reason);
      if (stream !== undefined && !stream.closed) {
        // As connect-node: CANCEL for a cancelled call (deadline included), INTERNAL_ERROR otherwise.
        const code = reason instanceof ConnectError && reason.code === Code.Canceled ? 0x8 : 0x2;
        stream.close(code);
      }
    };
    const onAbort = () => fail(signal.reason);
    signal.addEventListener("abort", onAbort);
    sessionManager.request("POST", url.pathname + url.search, nodeHeaders(req.header), {}).then((opened) => {
      stream = opened;
      if (settled) {
        if (!opened.closed) opened.close(0x8);
        return;
      }
      let status = 0;
      let header = new Headers();
      const trailer = new Headers();
      const chunks: Uint8Array[] = [];
      let size = 0;
      opened.on("response", (h) => {
        status = Number(h[":status"] ?? 0);
        header = webHeaders(h);
      });
      opened.on("data", (chunk: Uint8Array) => {
        chunks.push(chunk);
        size += chunk.byteLength;
        sessionManager.notifyResponseByteRead(opened);
      });
      opened.on("trailers", (t) => void webHeaders(t, trailer));
      opened.on("error", (e) => {
        if (opened.writableEnded && errorCodes(e).includes("ERR_STREAM_WRITE_AFTER_END")) return;
        fail(connectErrorFromNodeReason(e));
      });
      opened.on("close", () => {
        const reset = connectErrorFromH2ResetCode(opened.rstCode);
        if (reset !== undefined) return fail(reset);
        if (settled) return;
        if (status === 0) return fail(new ConnectError("http/2 stream closed without a response", Code.Unavailable));
        settled = true;
        signal.removeEventListener("abort", onAbort);
        resolve({ status, header, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size), trailer });
      });
      opened.end(frame);
    }, (e: unknown) => fail(connectErrorFromNodeReason(e)));
  });
}

function nodeHeaders(header: Headers): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  header.forEach((value, key) => void (out[key] = value));
  return out;
}

function webHeaders(h: http2.IncomingHttpHeaders, into: Headers = new Headers()): Headers {
  for (const key in h) {
    if (key.charCodeAt(0) === 58 /* ":" */) continue;
    const value = h[key];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) into.append(key, v);
    else into.append(key, value);
  }
  return into;
}

// connect-node's mapping of HTTP/2 and Node errors (its node-error module is not exported).

const h2CodeNames: Record<number, string> = {
  0x1: "PROTOCOL_ERROR",
  0x2: "INTERNAL_ERROR",
  0x3: "FLOW_CONTROL_ERROR",
  0x4: "SETTINGS_TIMEOUT",
  0x6: "FRAME_SIZE_ERROR",
  0x7: "REFUSED_STREAM",
  0x8: "CANCEL",
  0x9: "COMPRESSION_ERROR",
  0xa: "CONNECT_ERROR",
  0xb: "ENHANCE_YOUR_CALM",
  0xc: "INADEQUATE_SECURITY",
  0xd: "HTTP_1_1_REQUIRED",
};
const h2CodeToCode: Record<number, Code> = {
  0x1: Code.Internal,
  0x2: Code.Internal,
  0x3: Code.Internal,
  0x4: Code.Internal,
  0x6: Code.Internal,
  0x9: Code.Internal,
  0xa: Code.Internal,
  0x7: Code.Unavailable,
  0x8: Code.Canceled,
  0xb: Code.ResourceExhausted,
  0xc: Code.PermissionDenied,
  0xd: Code.PermissionDenied,
};

/** The error of a stream reset by the peer; undefined for NO_ERROR and STREAM_CLOSED. */
function connectErrorFromH2ResetCode(rstCode: number | undefined): ConnectError | undefined {
  const code = rstCode === undefined ? undefined : h2CodeToCode[rstCode];
  if (code === undefined) return undefined;
  return new ConnectError(`http/2 stream closed with error code ${h2CodeNames[rstCode!]} (0x${rstCode!.toString(16)})`, code);
}

/** Node error codes of an error and its causes. */
function errorCodes(reason: unknown): string[] {
  const codes: string[] = [];
  for (let e = reason, depth = 0; e instanceof Error && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") codes.push(code);
  }
  return codes;
}

function connectErrorFromNodeReason(reason: unknown): ConnectError {
  const codes = errorCodes(reason);
  let code = Code.Internal;
  if (codes.includes("ERR_STREAM_WRITE_AFTER_END")) code = Code.Aborted;
  else if (codes.some((c) => c === "ERR_STREAM_DESTROYED" || c === "ERR_HTTP2_INVALID_STREAM" || c === "ECONNRESET")) code = Code.Aborted;
  else if (codes.some((c) => c === "ETIMEDOUT" || c === "ENOTFOUND" || c === "EAI_AGAIN" || c === "ECONNREFUSED")) code = Code.Unavailable;
  const error = ConnectError.from(reason, code);
  if (error !== reason) error.cause = reason;
  return error;
}
