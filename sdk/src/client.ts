/**
 * The Promise client of a Meridian service, and the typed error of a failed call.
 *
 * Calls go through the resilience policies (deadline, retry, breaker,
 * bulkhead, load balancing; see ./policies) unless the target turns them off,
 * and reject with connect's `ConnectError`, which carries the typed error as a
 * detail; {@link typedErrorOf} rebuilds it as the same class the server raised.
 */
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { fromConnectError } from "./errors.js";
import { createFetchTransport, type FetchTransportOptions } from "./fetch-transport.js";
import { KitErrors, type KitError } from "./kit-errors.js";
import type { ClientHooks } from "./policies/hooks.js";
import type { PolicyOptions } from "./policies/policy.js";
import {
  createResilientTransport,
  isResilientTransport,
  type Endpoint,
  type ResilientTransport,
} from "./policies/resilient-transport.js";
import type { DomainErrorOf, MeridianService } from "./service.js";

/** How a client applies the resilience policies. */
export interface ResilienceOptions {
  /** Overrides of the default policies, per service and per method; `false` sends calls bare. */
  readonly policy?: PolicyOptions | false;
  /** Telemetry callbacks (the kit wires metrics and logs here). */
  readonly hooks?: ClientHooks;
}

/**
 * Where a client sends its calls: a Connect endpoint reached with fetch, any
 * transport, or several endpoints of one service to balance over.
 */
export type ClientTarget = (
  | FetchTransportOptions
  | { readonly transport: Transport }
  | { readonly endpoints: ReadonlyArray<Endpoint> }
) &
  ResilienceOptions;

/** The Promise client of a service: connect's client of its descriptor. */
export type MeridianClient<M extends MeridianService> = Client<M["desc"]>;

/** Every typed error a call of the service can fail with: its domain errors, the kit's, or RpcFailure. */
export type ClientError<M extends MeridianService> = DomainErrorOf<M> | KitError;

/**
 * A Promise client of the service; every call has a deadline (default 5 s) and
 * the default policies unless told otherwise; a failed call rejects with a ConnectError that carries the typed detail.
 */
export function createMeridianClient<M extends MeridianService>(service: M, target: ClientTarget): MeridianClient<M> {
  return createClient(service.desc, transportOf(target, service.domain)) as MeridianClient<M>;
}

/** The typed error a failed call carries (the service's domain errors first, then the kit's); RpcFailure if none claims it. */
export function typedErrorOf<M extends MeridianService>(service: M, cause: unknown): ClientError<M> {
  return fromConnectError(cause, [...service.errors, ...KitErrors]) as ClientError<M>;
}

/**
 * The transport of a target: a resilient transport around its endpoint(s),
 * the bare one when `policy` is false, or the given one if it is already resilient.
 */
export function transportOf(target: ClientTarget, downstream = "downstream"): Transport {
  if ("transport" in target && (target.policy === false || isResilientTransport(target.transport))) {
    return target.transport;
  }
  const endpoints = endpointsOf(target, downstream);
  if (target.policy === false) {
    if (endpoints.length !== 1) throw new TypeError("several endpoints need the policies (load balancing)");
    return endpoints[0]!.transport;
  }
  return createResilientTransport({
    downstream,
    endpoints,
    ...(target.policy === undefined ? {} : { policy: target.policy }),
    ...(target.hooks === undefined ? {} : { hooks: target.hooks }),
  }) satisfies ResilientTransport;
}

function endpointsOf(target: ClientTarget, downstream: string): ReadonlyArray<Endpoint> {
  if ("endpoints" in target) return target.endpoints;
  // A transport names no address: its endpoint goes by the service's name (in CircuitOpen, metrics).
  if ("transport" in target) return [{ url: downstream, transport: target.transport }];
  return [{ url: target.baseUrl, transport: createFetchTransport(target) }];
}
