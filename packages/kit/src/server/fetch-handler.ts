/**
 * The server as a Fetch API handler, `(Request) => Promise<Response>`, so any
 * runtime with a Fetch server (Bun.serve, Deno.serve) can listen with it:
 * RPC paths go to their Connect handlers, `/healthz` and `/readyz` answer
 * JSON, `/metrics` the Prometheus text, and an unknown method gets the protocol's `unimplemented`.
 */
import { universalServerRequestFromFetch, universalServerResponseToFetch } from "@connectrpc/connect/protocol";
import type { HealthRegistry } from "../health.js";
import { metrics } from "../telemetry/metrics.js";
import { writeLogLine } from "../log.js";
import { correlationIdOf, protocolOf, type PeerOf } from "./call.js";
import { serveConnectUnary } from "./connect-unary.js";
import type { Routes } from "./routes.js";
import { serveRpc } from "./rpc.js";

/** What the fetch handler serves besides RPCs. */
export interface FetchHandlerOptions {
  readonly routes: Routes;
  readonly health: HealthRegistry;
  readonly service: string;
  readonly version: string;
}

/** Serves every RPC route, health and readiness; never throws. */
export function createFetchHandler(options: FetchHandlerOptions): (request: Request, peer?: PeerOf) => Promise<Response> {
  const { routes, health, service, version } = options;
  return async (request, peer) => {
    const path = pathOf(request.url);
    const unary = routes.unary.get(path);
    if (unary !== undefined) {
      const answered = serveConnectUnary(unary, request, routes.options.maxMessageBytes, peer);
      if (answered !== undefined) return answered;
    }
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
    return unimplemented(request, path);
  };
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
