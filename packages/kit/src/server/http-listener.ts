/**
 * The HTTP/1.1 listener: Connect (JSON, binary, GET) and gRPC-Web, health and
 * readiness, served by Bun.serve from the runtime-neutral fetch handler.
 * Release drains: no new connections, in-flight requests finish within the
 * grace period, then whatever is left is cut.
 */
import { Data, Effect, type Scope } from "effect";
import { writeLogLine } from "../log.js";
import type { PeerOf } from "./call.js";

/** The listener could not bind its address. */
export class ListenFailed extends Data.TaggedError("ListenFailed")<{
  readonly message: string;
}> {}

/** A bound listener. */
export interface Listener {
  /** e.g. "http://127.0.0.1:8080" */
  readonly url: string;
  readonly port: number;
}

/** Listens with Bun.serve until the scope closes, then drains for at most `graceMs`. */
export function listenHttp(options: {
  readonly host: string;
  readonly port: number;
  readonly graceMs: number;
  readonly fetch: (request: Request, peer?: PeerOf) => Promise<Response>;
  /**
   * Handlers of exact paths, each answering as `fetch` would for that path: Bun matches them
   * natively (Bun.serve `routes`), before and instead of `fetch`.
   */
  readonly byPath?: ReadonlyMap<string, (request: Request, peer?: PeerOf) => Promise<Response>>;
}): Effect.Effect<Listener, ListenFailed, Scope.Scope> {
  return Effect.acquireRelease(
    Effect.try({
      try: () => {
        if (typeof Bun === "undefined") throw new Error("the HTTP listener needs Bun (run with bun)");
        const routes: Record<string, (request: Request, server: Bun.Server<undefined>) => Promise<Response>> = {};
        for (const [path, handler] of options.byPath ?? []) {
          routes[path] = (request, server) => handler(request, () => peerOf(server.requestIP(request)));
        }
        const server = Bun.serve({
          routes,
          hostname: options.host,
          port: options.port,
          fetch: (request, server) => options.fetch(request, () => peerOf(server.requestIP(request))),
          idleTimeout: 60,
          maxRequestBodySize: 64 * 1024 * 1024, // the message limit itself is enforced per protocol
          error: (e) => {
            writeLogLine("error", "http listener error", { error: e.message });
            return new Response("internal error", { status: 500 });
          },
        });
        return server;
      },
      catch: (e) =>
        new ListenFailed({
          message: `cannot listen on ${options.host}:${options.port} (HTTP_PORT): ${e instanceof Error ? e.message : String(e)}`,
        }),
    }),
    (server) =>
      Effect.promise(async () => {
        const drained = server.stop(false);
        const cut = new Promise<"cut">((resolve) => setTimeout(() => resolve("cut"), options.graceMs).unref?.());
        if ((await Promise.race([drained.then(() => "drained" as const), cut])) === "cut") {
          writeLogLine("warn", "grace period over; closing open HTTP connections", { grace_ms: options.graceMs });
          await server.stop(true);
        }
      }),
  ).pipe(
    Effect.map((server) => {
      const port = server.port ?? options.port;
      return { url: `http://${options.host}:${port}`, port };
    }),
  );
}

/** "address:port" of a socket address, as the access log shows the peer. */
export function peerOf(address: { address: string; port: number } | null | undefined): string | undefined {
  if (address === null || address === undefined) return undefined;
  return address.address.includes(":") ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}
