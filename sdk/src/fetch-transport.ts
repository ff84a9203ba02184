/**
 * Connect over fetch: the transport of browsers, Bun and Deno, and of any
 * client made from a `baseUrl`.
 */
import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
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

/**
 * Connect over fetch, JSON unless asked for binary; `NO_SIDE_EFFECTS` methods
 * are sent as HTTP GET. A request that never reached the server (refused,
 * reset, blocked by CORS) fails as `unavailable`, which the retry policy and breakers understand.
 */
export function createFetchTransport(options: FetchTransportOptions): Transport {
  return createConnectTransport({
    baseUrl: options.baseUrl,
    useBinaryFormat: options.useBinaryFormat ?? false,
    useHttpGet: true,
    interceptors: [...(options.interceptors ?? [])],
    ...(options.defaultTimeoutMs === undefined ? {} : { defaultTimeoutMs: options.defaultTimeoutMs }),
    fetch: unreachableAsUnavailable(options.baseUrl, options.fetch),
  });
}

function unreachableAsUnavailable(baseUrl: string, given: typeof globalThis.fetch | undefined): typeof globalThis.fetch {
  const fetchOf = (input: RequestInfo | URL, init?: RequestInit) =>
    // A bare reference to a browser's fetch throws "Illegal invocation" when called detached.
    given === undefined ? globalThis.fetch(input, init) : given(input, init);
  return ((input: RequestInfo | URL, init?: RequestInit) =>
    fetchOf(input, init).catch((e: unknown) => {
      if (init?.signal?.aborted) throw e; // a deadline or a cancel, which connect reports itself
      const reason = e instanceof Error ? e.message : String(e);
      throw new ConnectError(`cannot reach ${baseUrl}: ${reason}`, Code.Unavailable, undefined, undefined, e);
    })) as typeof globalThis.fetch;
}
