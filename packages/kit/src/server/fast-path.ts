/**
 * What the kit's two unary fast paths (Connect over Fetch, connect-unary.ts; gRPC over
 * node:http2, grpc-unary.ts) share: the call the invoker sees, running the route's invoker, and
 * the error for a message over the size limit.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { CallRecord } from "./call.js";
import type { UnaryCall } from "./implement.js";
import type { UnaryRoute } from "./routes.js";

/**
 * A fast-path call: response headers made only when the handler sets one. The AbortSignal is the
 * path's own (made only when something asks for it: making one costs about as much as the rest of
 * a trivial call).
 */
export abstract class FastPathCall implements UnaryCall {
  private responseHeaders: Headers | undefined;
  constructor(
    readonly requestHeader: Headers,
    readonly record: CallRecord,
    readonly timeoutMs: number | undefined,
  ) {}
  abstract get signal(): AbortSignal;
  responseHeader(): Headers {
    return (this.responseHeaders ??= new Headers());
  }
  /** Headers the handler set, if any. */
  get extraHeaders(): Headers | undefined {
    return this.responseHeaders;
  }
}

/** The route's response: at once when its handler finished synchronously, else a promise of it. */
export function invokeRoute(route: UnaryRoute, input: unknown, call: UnaryCall): unknown {
  return route.invoke.direct === undefined ? route.invoke(input, call) : route.invoke.direct(input, call);
}

/** A message over the configured limit, as connect reports it. */
export function tooLarge(size: number, max: number, limit: "readMaxBytes" | "writeMaxBytes" = "readMaxBytes"): ConnectError {
  return new ConnectError(`message size ${size} is larger than configured ${limit} ${max}`, Code.ResourceExhausted);
}
