/**
 * The Promise client of a Meridian service, and the typed error of a failed call.
 *
 * Calls reject with connect's `ConnectError`, which carries the typed error as a
 * detail; {@link typedErrorOf} rebuilds it as the same class the server raised.
 */
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { fromConnectError } from "./errors.js";
import { createFetchTransport, type FetchTransportOptions } from "./fetch-transport.js";
import { KitErrors, type KitError } from "./kit-errors.js";
import type { DomainErrorOf, MeridianService } from "./service.js";

/** Where a client sends its calls: a Connect endpoint reached with fetch, or any transport. */
export type ClientTarget = FetchTransportOptions | { readonly transport: Transport };

/** The Promise client of a service: connect's client of its descriptor. */
export type MeridianClient<M extends MeridianService> = Client<M["desc"]>;

/** Every typed error a call of the service can fail with: its domain errors, the kit's, or RpcFailure. */
export type ClientError<M extends MeridianService> = DomainErrorOf<M> | KitError;

/** A Promise client of the service; a failed call rejects with a ConnectError that carries the typed detail. */
export function createMeridianClient<M extends MeridianService>(service: M, target: ClientTarget): MeridianClient<M> {
  return createClient(service.desc, transportOf(target)) as MeridianClient<M>;
}

/** The typed error a failed call carries (the service's domain errors first, then the kit's); RpcFailure if none claims it. */
export function typedErrorOf<M extends MeridianService>(service: M, cause: unknown): ClientError<M> {
  return fromConnectError(cause, [...service.errors, ...KitErrors]) as ClientError<M>;
}

/** The transport of a target: the one given, or Connect over fetch to its `baseUrl`. */
export function transportOf(target: ClientTarget): Transport {
  return "transport" in target ? target.transport : createFetchTransport(target);
}
