/**
 * Connect over fetch: the transport of browsers, Bun and Deno, and of any
 * client made from a `baseUrl`.
 */
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";

/** A Connect endpoint reached with fetch, and how to talk to it. */
export interface FetchTransportOptions {
  /** Where the services are served, e.g. `http://localhost:8080`. */
  readonly baseUrl: string;
  /** Binary protobuf instead of JSON (the default, readable in a browser's devtools). */
  readonly useBinaryFormat?: boolean;
  /** Interceptors run on every call, in order. */
  readonly interceptors?: ReadonlyArray<Interceptor>;
  /** Deadline of a call that sets no `timeoutMs` of its own. */
  readonly defaultTimeoutMs?: number;
  /** Another fetch (e.g. one that sets `credentials`). */
  readonly fetch?: typeof globalThis.fetch;
}

/** Connect over fetch, JSON unless asked for binary; `NO_SIDE_EFFECTS` methods are sent as HTTP GET. */
export function createFetchTransport(options: FetchTransportOptions): Transport {
  return createConnectTransport({
    baseUrl: options.baseUrl,
    useBinaryFormat: options.useBinaryFormat ?? false,
    useHttpGet: true,
    interceptors: [...(options.interceptors ?? [])],
    ...(options.defaultTimeoutMs === undefined ? {} : { defaultTimeoutMs: options.defaultTimeoutMs }),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  });
}
