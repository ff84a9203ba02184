/**
 * The resilience state (breakers, bulkhead, retry budget) of a client made by
 * the locator, for callers that report it, e.g. a status page showing each
 * downstream's breaker. Read-only: it never changes how calls are made.
 */
import type { ResilienceState, ResilientTransport } from "@meridian/sdk";

const transports = new WeakMap<object, ResilientTransport>();

/** Remembers the transport behind a client (the locator does this for every client it makes). */
export function rememberTransport(client: object, transport: ResilientTransport): void {
  transports.set(client, transport);
}

/** The live state of a client made by `makeClient`/`layerClient`: its endpoints' breakers, bulkhead and budget; undefined for any other object. */
export function clientState(client: object): ResilienceState | undefined {
  return transports.get(client)?.state();
}
