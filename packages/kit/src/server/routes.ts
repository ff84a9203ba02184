/**
 * The routing table of a server: every method of every bound service as a
 * Connect universal handler (Connect, gRPC and gRPC-Web), keyed by its path.
 */
import { createConnectRouter } from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import type { CallLimits, ServiceBinding } from "./implement.js";

/** Limits of the whole server. */
export interface RouteOptions extends CallLimits {
  /** Largest message read or written, bytes; bigger requests get resource_exhausted. */
  readonly maxMessageBytes: number;
}

/** Builds one handler per method path ("/pkg.Service/Method"); a path appears once or start-up fails. */
export function createRoutes(bindings: ReadonlyArray<ServiceBinding>, options: RouteOptions): Map<string, UniversalHandler> {
  const router = createConnectRouter({
    readMaxBytes: options.maxMessageBytes,
    writeMaxBytes: options.maxMessageBytes,
  });
  for (const binding of bindings) {
    router.service(binding.service.desc, binding.toConnect(options));
  }
  const routes = new Map<string, UniversalHandler>();
  for (const handler of router.handlers) {
    if (routes.has(handler.requestPath)) throw new Error(`two services serve ${handler.requestPath}`);
    routes.set(handler.requestPath, handler);
  }
  return routes;
}
