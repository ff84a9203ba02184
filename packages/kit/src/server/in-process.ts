/**
 * Calling services in the same process with no socket: a Connect transport
 * whose requests go straight to the server's routes, through the same handler
 * adapter, call record and access log as a request from the network.
 */
import type { Transport } from "@connectrpc/connect";
import { createUniversalHandlerClient, type UniversalHandler } from "@connectrpc/connect/protocol";
import { createTransport } from "@connectrpc/connect/protocol-connect";
import { Effect } from "effect";
import type { ServiceBinding } from "./implement.js";
import { createRoutes, type RouteOptions, type Routes } from "./routes.js";
import { serveRpc } from "./rpc.js";

const inProcessPeer = () => "in-process";

/** Default limits of in-process calls: the server's defaults. */
const defaultOptions: RouteOptions = { maxMessageBytes: 4 * 1024 * 1024, deadlineCapMs: 30_000 };

/** A transport to the given routes: binary Connect over no socket, same limits as the server. */
export function inProcessTransport(routes: Routes): Transport {
  const options = routes.options;
  const handlers = [...routes.handlers.values()].map((handler) =>
    Object.assign(
      // The handler's own properties (path, method, content types) with the kit's serving around it.
      (request: Parameters<UniversalHandler>[0]) =>
        serveRpc(handler, request.header, inProcessPeer, (contextValues) => ({ ...request, contextValues })),
      handler,
    ) as UniversalHandler,
  );
  return createTransport({
    httpClient: createUniversalHandlerClient(handlers),
    baseUrl: "https://in-process",
    useBinaryFormat: true,
    interceptors: [],
    acceptCompression: [],
    sendCompression: null,
    compressMinBytes: Number.MAX_SAFE_INTEGER,
    readMaxBytes: options.maxMessageBytes,
    writeMaxBytes: options.maxMessageBytes,
  });
}

/** Binds the services to the current context and returns an in-process transport to them. */
export function inProcess<R>(
  services: ReadonlyArray<Effect.Effect<ServiceBinding, never, R>>,
  options: RouteOptions = defaultOptions,
): Effect.Effect<Transport, never, R> {
  return Effect.map(Effect.all(services), (bindings) => inProcessTransport(createRoutes(bindings, options)));
}
