/**
 * The HTTP/2 cleartext listener: gRPC (and Connect and gRPC-Web, which work
 * over HTTP/2 too) through node:http2, because gRPC needs HTTP trailers, which
 * Bun.serve does not send. Release drains: GOAWAY to every session, in-flight
 * streams finish within the grace period, then the sessions are destroyed.
 * Plain unary gRPC takes the fast path (grpc-unary.ts); the rest, connect's
 * generic handler.
 */
import * as http2 from "node:http2";
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import { Effect, type Scope } from "effect";
import { writeLogLine } from "../log.js";
import { ListenFailed, peerOf, type Listener } from "./http-listener.js";
import type { Routes } from "./routes.js";
import { serveRpc } from "./rpc.js";
import { headersOf, resetIfUnread, serveGrpcUnary, type GrpcFallback } from "./grpc-unary.js";

/** Listens with node:http2 (h2c) until the scope closes, then drains for at most `graceMs`. */
export function listenGrpc(options: {
  readonly host: string;
  readonly port: number;
  readonly graceMs: number;
  readonly routes: Routes;
}): Effect.Effect<Listener, ListenFailed, Scope.Scope> {
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer({}, (req, res) => {
    void handle(options.routes, req, res);
  });
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  return Effect.acquireRelease(
    Effect.callback<Listener, ListenFailed>((resume) => {
      const onError = (e: Error) =>
        resume(
          Effect.fail(new ListenFailed({ message: `cannot listen on ${options.host}:${options.port} (GRPC_PORT): ${e.message}` })),
        );
      server.once("error", onError);
      server.listen(options.port, options.host, () => {
        server.off("error", onError);
        const address = server.address();
        const port = typeof address === "object" && address !== null ? address.port : options.port;
        resume(Effect.succeed({ url: `http://${options.host}:${port}`, port }));
      });
    }),
    () =>
      Effect.promise(async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const session of sessions) session.close();
        const cut = new Promise<"cut">((resolve) => setTimeout(() => resolve("cut"), options.graceMs).unref?.());
        if ((await Promise.race([closed.then(() => "drained" as const), cut])) === "cut") {
          writeLogLine("warn", "grace period over; closing open HTTP/2 sessions", { grace_ms: options.graceMs });
          for (const session of sessions) session.destroy();
          await closed;
        }
      }),
  );
}

async function handle(routes: Routes, req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): Promise<void> {
  const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
  const handler = routes.handlers.get(path);
  try {
    if (handler === undefined) return unimplemented(req, res, path);
    const header = headersOf(req);
    const peer = () => peerOf({ address: req.socket?.remoteAddress ?? "", port: req.socket?.remotePort ?? 0 });
    const unary = routes.unary.get(path);
    let read: GrpcFallback | undefined;
    if (unary !== undefined) {
      const answered = serveGrpcUnary(unary, req, res, header, routes.options.maxMessageBytes, peer);
      if (answered !== undefined) {
        read = await answered;
        if (read === undefined) return;
      }
    }
    const response = await serveRpc(handler, header, peer, (contextValues) => {
      const request = universalRequestFromNodeRequest(req, res, undefined, contextValues);
      // What the fast path read goes first; then the rest of the request, if it had not ended.
      return read === undefined ? request : { ...request, body: prefixed(read.read, read.ended ? undefined : req) };
    });
    // A response that ends before its request was read to the end (one over the size limit)
    // leaves the stream half-open: Bun's compat response then never finishes, and the session
    // holds shutdown until the grace period cuts it. Reset such a stream with NO_ERROR once the
    // response is sent (RFC 9113 section 8.1), and stop waiting for it.
    const closed = new Promise<void>((resolve) => res.once("close", resolve));
    const body = thenResetIfUnread(response.body, req, res);
    await Promise.race([universalResponseToNodeResponse({ ...response, body }, res), closed]);
  } catch (e) {
    writeLogLine("error", "http/2 request failed", { path, error: e instanceof Error ? e.message : String(e) });
    if (!res.headersSent) res.writeHead(500);
    res.end();
  }
}

/** The bytes already read, then the rest of the request. */
async function* prefixed(read: Uint8Array, rest: AsyncIterable<Uint8Array> | undefined): AsyncIterable<Uint8Array> {
  if (read.byteLength > 0) yield read;
  if (rest !== undefined) yield* rest;
}

/** Passes the body through; after its last chunk, resets the stream if the request is still unread. */
async function* thenResetIfUnread(
  body: AsyncIterable<Uint8Array> | undefined,
  req: http2.Http2ServerRequest,
  res: http2.Http2ServerResponse,
): AsyncIterable<Uint8Array> {
  try {
    if (body !== undefined) yield* body;
  } finally {
    // After the trailers that connect-node writes once the body ends.
    resetIfUnread(req, res);
  }
}

function unimplemented(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse, path: string): void {
  const message = `no such method: ${path}`;
  const contentType = req.headers["content-type"] ?? "";
  if (contentType.startsWith("application/grpc")) {
    // Trailers-only: the status must ride on a HEADERS frame that ends the stream. writeHead + end
    // sends HEADERS, then an empty DATA frame, and grpc-js reports INTERNAL "ended without gRPC status".
    res.stream.respond(
      { ":status": 200, "content-type": contentType, "grpc-status": "12", "grpc-message": encodeURIComponent(message) },
      { endStream: true },
    );
    return;
  }
  res.writeHead(404, { "content-type": "application/json" });
  res.end(JSON.stringify({ code: "unimplemented", message }));
}
