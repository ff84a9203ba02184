/**
 * Transports over Node's http and http2 modules (connect-node), for services
 * and scripts: Connect and gRPC-Web over HTTP/1.1 or HTTP/2, gRPC over HTTP/2.
 */
import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { createGrpcUnaryTransport } from "./grpc-unary-transport.js";

/** An endpoint reached through node:http or node:http2, and how to talk to it. */
export interface NodeTransportOptions {
  /** Where the service is served, e.g. `http://market:8080` (h2c) or `https://…` (TLS). */
  readonly baseUrl: string;
  readonly protocol: "connect" | "grpc" | "grpc-web";
  /** HTTP version for Connect and gRPC-Web (default "1.1"); gRPC is always HTTP/2. */
  readonly httpVersion?: "1.1" | "2";
  /** Binary protobuf (the default) or JSON. */
  readonly binary?: boolean;
  /** Interceptors run on every call, in order. */
  readonly interceptors?: ReadonlyArray<Interceptor>;
  /** Deadline of a call that sets no `timeoutMs` of its own. */
  readonly defaultTimeoutMs?: number;
}

/**
 * A connect-node transport: gRPC always over HTTP/2, Connect and gRPC-Web over
 * HTTP/1.1 unless told otherwise; Connect sends `NO_SIDE_EFFECTS` methods as GET.
 */
export function createNodeTransport(options: NodeTransportOptions): Transport {
  const common = {
    baseUrl: options.baseUrl,
    useBinaryFormat: options.binary ?? true,
    interceptors: [...(options.interceptors ?? []), goawayIsUnavailable],
    ...(options.defaultTimeoutMs === undefined ? {} : { defaultTimeoutMs: options.defaultTimeoutMs }),
  };
  const httpVersion = options.httpVersion ?? "1.1";
  switch (options.protocol) {
    case "grpc":
      // Binary unary calls on the lean path (grpc-unary-transport.ts), streams through connect-node.
      return common.useBinaryFormat ? createGrpcUnaryTransport(common) : createGrpcTransport(common);
    case "grpc-web":
      return createGrpcWebTransport({ ...common, httpVersion });
    case "connect":
      return createConnectTransport({ ...common, httpVersion, useHttpGet: true });
  }
}

/**
 * A call refused because the server has sent HTTP/2 GOAWAY (it is shutting down, or rotating
 * connections) was never sent: it is `unavailable`, which the retry policy may retry on another
 * connection, not the `internal` connect-node reports for it.
 */
export const goawayIsUnavailable: Interceptor = (next) => async (request) => {
  try {
    return await next(request);
  } catch (e) {
    if (isGoaway(e)) {
      const error = ConnectError.from(e);
      throw new ConnectError(error.rawMessage, Code.Unavailable, error.metadata, undefined, e);
    }
    throw e;
  }
};

function isGoaway(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const codes = ["ERR_HTTP2_GOAWAY_SESSION", "ERR_HTTP2_INVALID_SESSION"];
  const cause = (e as { cause?: { code?: unknown } }).cause;
  const code = (e as { code?: unknown }).code;
  return (
    codes.includes(String(code)) ||
    codes.includes(String(cause?.code)) ||
    /after receiving a GOAWAY|GOAWAY_SESSION/.test(e.message)
  );
}
