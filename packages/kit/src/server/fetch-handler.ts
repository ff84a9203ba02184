/**
 * The server as a Fetch API handler, `(Request) => Promise<Response>`, so any
 * runtime with a Fetch server (Bun.serve, Deno.serve) can listen with it:
 * RPC paths go to their Connect handlers, `/healthz` and `/readyz` answer
 * JSON, `/metrics` the Prometheus text, plain HTTP routes (e.g. a status page) their
 * own handler, and an unknown method gets the protocol's `unimplemented`.
 */
import { universalServerRequestFromFetch, universalServerResponseToFetch } from "@connectrpc/connect/protocol";
import type { HealthRegistry } from "../health.js";
import { metrics } from "../telemetry/metrics.js";
import { writeLogLine } from "../log.js";
import { correlationIdOf, protocolOf, type PeerOf } from "./call.js";
import { serveConnectUnary } from "./connect-unary.js";
import type { Routes } from "./routes.js";
import { serveRpc } from "./rpc.js";

/** A plain HTTP route served beside the RPCs (e.g. a status page): no RPC protocol, no access-log line. */
export interface HttpRoute {
  /** The path served, e.g. "/" or "/status/". */
  readonly path: string;
  /** Also serve every path that starts with `path` (default: only `path` itself). */
  readonly prefix?: boolean;
  readonly fetch: (request: Request) => Response | Promise<Response>;
}

/** What the fetch handler serves besides RPCs. */
export interface FetchHandlerOptions {
  readonly routes: Routes;
  readonly health: HealthRegistry;
  readonly service: string;
  readonly version: string;
  /** Served after RPCs, health and metrics, before `unimplemented`; the first match wins. */
  readonly httpRoutes?: ReadonlyArray<HttpRoute>;
}

/** A Fetch handler with the listener's peer lookup. */
export type FetchHandler = (request: Request, peer?: PeerOf) => Promise<Response>;

/**
 * The server's Fetch handler, and the same handler narrowed to each unary method's path: a listener
 * that routes by path itself (Bun.serve's `routes`) calls those and skips the path lookup.
 */
export interface FetchHandlers {
  /** Serves every path (what `createFetchHandler` returns). */
  readonly fetch: FetchHandler;
  /** By path ("/pkg.Service/Method"): answers exactly as `fetch` does for a request to that path. */
  readonly byPath: ReadonlyMap<string, FetchHandler>;
}

/** Serves every RPC route, health and readiness; never throws. */
export function createFetchHandler(options: FetchHandlerOptions): FetchHandler {
  return createFetchHandlers(options).fetch;
}

/** {@link createFetchHandler}, plus a handler per unary method's path. */
export function createFetchHandlers(options: FetchHandlerOptions): FetchHandlers {
  const { routes, health, service, version } = options;
  const httpRoutes = options.httpRoutes ?? [];
  const maxMessageBytes = routes.options.maxMessageBytes;
  const other = async (request: Request, path: string, peer: PeerOf | undefined): Promise<Response> => {
    const handler = routes.handlers.get(path);
    if (handler !== undefined) {
      const response = await serveRpc(handler, request.headers, peer, (contextValues) => ({
        ...universalServerRequestFromFetch(request, { httpVersion: "1.1" }),
        contextValues,
      }));
      return universalServerResponseToFetch(response);
    }
    if (path === "/healthz") {
      const report = health.liveness(service, version);
      return Response.json(report, { status: report.status === "unhealthy" ? 503 : 200 });
    }
    if (path === "/readyz") {
      const report = await health.readiness(service, version);
      return Response.json(report, { status: report.status === "unhealthy" ? 503 : 200 });
    }
    if (path === "/metrics") {
      return new Response(metrics.render(), { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
    }
    const route = httpRoutes.find((r) => (r.prefix === true ? path.startsWith(r.path) : path === r.path));
    if (route !== undefined) return serveHttpRoute(route, request);
    return unimplemented(request, path);
  };
  // Not async: the Connect unary fast path's promise is returned as it is, not wrapped in another.
  const byPath = new Map<string, FetchHandler>();
  for (const [path, unary] of routes.unary) {
    byPath.set(path, (request, peer) => serveConnectUnary(unary, request, maxMessageBytes, peer) ?? other(request, path, peer));
  }
  const fetch: FetchHandler = (request, peer) => {
    const path = pathOf(request.url);
    const unary = byPath.get(path);
    return unary !== undefined ? unary(request, peer) : other(request, path, peer);
  };
  return { fetch, byPath };
}

/** A route's answer; a route that throws gets a bare 500 and a log line, like any defect. */
async function serveHttpRoute(route: HttpRoute, request: Request): Promise<Response> {
  try {
    return await route.fetch(request);
  } catch (e) {
    writeLogLine("error", "http route failed", { path: route.path, error: e instanceof Error ? e.message : String(e) });
    return new Response("internal error", { status: 500, headers: { "content-type": "text/plain" } });
  }
}

/** The path of a URL without parsing all of it (this runs on every request). */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const query = url.indexOf("?", start);
  return query < 0 ? url.slice(start) : url.slice(start, query);
}

/**
 * gRPC(-Web) callers get a trailers-only `unimplemented`; Connect and everyone else a 404 with a
 * Connect error body. Either way the caller's correlation id comes back and the call is logged
 * (not counted in metrics: unknown paths would make unbounded label values).
 */
function unimplemented(request: Request, path: string): Response {
  const message = `no such method: ${path}`;
  const contentType = request.headers.get("content-type") ?? "";
  const correlationId = correlationIdOf(request.headers);
  const grpc = contentType.startsWith("application/grpc");
  writeLogLine("info", "rpc", {
    correlation_id: correlationId,
    method: path.slice(1),
    protocol: protocolOf(contentType),
    code: "unimplemented",
    http_status: grpc ? 200 : 404,
  });
  if (grpc) {
    return new Response(null, {
      status: 200,
      headers: {
        "content-type": contentType,
        "grpc-status": "12",
        "grpc-message": encodeURIComponent(message),
        "x-request-id": correlationId,
      },
    });
  }
  return Response.json({ code: "unimplemented", message }, { status: 404, headers: { "x-request-id": correlationId } });
}
