/**
 * The services this process serves to its own clients with no socket (local
 * mode): the all-in-one launcher registers its bindings here, and a client of
 * a service with no URL configured calls it through the in-process transport,
 * under the same handler adapter and limits as a call from the network.
 */
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import { Context, Effect, Layer } from "effect";
import type { ServiceBinding } from "../server/implement.js";
import { inProcess, inProcessTransport } from "../server/in-process.js";
import { createRoutes, type RouteOptions } from "../server/routes.js";

/** The in-process services of this process, by proto service name. */
export interface LocalRegistry {
  /** The in-process transport to a service, if this process serves it. */
  readonly transportOf: (typeName: string) => Transport | undefined;
  /** Every service served in-process (for messages). */
  readonly typeNames: ReadonlyArray<string>;
}

/** The services callable in-process; absent when the process serves none to itself. */
export class LocalServices extends Context.Service<LocalServices, LocalRegistry>()("@meridian/kit/LocalServices") {}

/** Binds the services to the current context and makes them callable in-process by the clients of this process. */
export function layerLocalServices<R>(
  services: ReadonlyArray<Effect.Effect<ServiceBinding, never, R>>,
  options?: RouteOptions,
): Layer.Layer<LocalServices, never, R> {
  return Layer.effect(
    LocalServices,
    Effect.gen(function* () {
      const bindings = yield* Effect.all(services);
      const transport = yield* inProcess(bindings.map((b) => Effect.succeed(b)), options);
      const typeNames = bindings.map((b) => b.service.desc.typeName);
      return {
        transportOf: (typeName: string) => (typeNames.includes(typeName) ? transport : undefined),
        typeNames,
      };
    }),
  );
}

/** A registry filled in two steps; see {@link deferredLocalServices}. */
export interface DeferredLocalServices {
  readonly registry: LocalRegistry;
  /** Serves the bindings in-process; calls made before fail with `unavailable`. */
  readonly bind: (bindings: ReadonlyArray<ServiceBinding>, options: RouteOptions) => void;
}

/**
 * For the all-in-one launcher, where services call each other: clients are
 * built before the services they call (no Layer cycle) and reach them once
 * `bind` has their bindings. `typeNames` declares what will be bound, so a
 * client of anything else fails at start; without it every service is taken
 * as local, and one never bound answers `unimplemented`.
 */
export function deferredLocalServices(typeNames?: ReadonlyArray<string>): DeferredLocalServices {
  let bound: Transport | undefined;
  const notYet = () => new ConnectError("the in-process services are not started yet", Code.Unavailable);
  const transport: Transport = {
    unary: (method, signal, timeoutMs, header, input, contextValues) =>
      bound === undefined ? Promise.reject(notYet()) : bound.unary(method, signal, timeoutMs, header, input, contextValues),
    stream: (method, signal, timeoutMs, header, input, contextValues) =>
      bound === undefined ? Promise.reject(notYet()) : bound.stream(method, signal, timeoutMs, header, input, contextValues),
  };
  return {
    registry: {
      transportOf: (typeName) => (typeNames === undefined || typeNames.includes(typeName) ? transport : undefined),
      typeNames: typeNames ?? [],
    },
    bind: (bindings, options) => {
      bound = inProcessTransport(createRoutes(bindings, options));
    },
  };
}
