/**
 * The routing table of a server: every method of every bound service as a
 * Connect universal handler (Connect, gRPC and gRPC-Web), keyed by its path,
 * and every unary method as a direct invoker for the Connect unary fast path.
 */
import { createConnectRouter } from "@connectrpc/connect";
import type { DescMethod } from "@bufbuild/protobuf";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import type { MeridianService } from "@meridian/sdk";
import type { CallLimits, ServiceBinding, UnaryInvoker } from "./implement.js";
import { jsonCodecOf, type JsonCodec } from "./json-codec.js";

/** How the fast path reads JSON requests: fields it does not know are skipped (Connect's default). */
const jsonRead = { ignoreUnknownFields: true } as const;

/** Limits of the whole server. */
export interface RouteOptions extends CallLimits {
  /** Largest message read or written, bytes; bigger requests get resource_exhausted. */
  readonly maxMessageBytes: number;
}

/** A unary method reachable without Connect's generic handler. */
export interface UnaryRoute {
  readonly service: MeridianService;
  readonly method: DescMethod;
  readonly invoke: UnaryInvoker;
  /** The request's and the response's JSON, compiled once per method. */
  readonly inputJson: JsonCodec;
  readonly outputJson: JsonCodec;
}

/** Every route of a server, by path ("/pkg.Service/Method"). */
export interface Routes {
  readonly handlers: ReadonlyMap<string, UniversalHandler>;
  readonly unary: ReadonlyMap<string, UnaryRoute>;
  readonly options: RouteOptions;
}

/** Builds the routes; a path served twice fails start-up. */
export function createRoutes(bindings: ReadonlyArray<ServiceBinding>, options: RouteOptions): Routes {
  const router = createConnectRouter({
    readMaxBytes: options.maxMessageBytes,
    writeMaxBytes: options.maxMessageBytes,
  });
  const unary = new Map<string, UnaryRoute>();
  for (const binding of bindings) {
    router.service(binding.service.desc, binding.toConnect(options));
    const invokers = binding.toUnaryInvokers(options);
    for (const method of binding.service.desc.methods) {
      const invoke = invokers.get(method.localName);
      if (invoke === undefined) continue;
      unary.set(`/${binding.service.desc.typeName}/${method.name}`, {
        service: binding.service,
        method,
        invoke,
        inputJson: jsonCodecOf(method.input, jsonRead),
        outputJson: jsonCodecOf(method.output, jsonRead),
      });
    }
  }
  const handlers = new Map<string, UniversalHandler>();
  for (const handler of router.handlers) {
    if (handlers.has(handler.requestPath)) throw new Error(`two services serve ${handler.requestPath}`);
    handlers.set(handler.requestPath, handler);
  }
  return { handlers, unary, options };
}
