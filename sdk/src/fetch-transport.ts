/**
 * Connect over fetch: the transport of browsers, Bun and Deno, and of any
 * client made from a `baseUrl`.
 *
 * Unary calls take a lean path: connect-web's steps and checks (its request
 * headers, GET for `NO_SIDE_EFFECTS`, `validateResponse`, errors from the JSON
 * error body, `trailer-` headers as trailers) around one fetch, run by the
 * SDK's `runUnary` (./unary-call.ts) instead of connect's `runUnaryCall`, with
 * each method's URL and serializers made once. Server streams go through
 * connect-web's transport.
 */
import { fromJson, type DescMethod } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import {
  appendHeaders,
  Code,
  ConnectError,
  type Interceptor,
  type Transport,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { createClientMethodSerializers, createMethodUrl, getJsonOptions } from "@connectrpc/connect/protocol";
import {
  errorFromJson,
  requestHeader,
  trailerDemux,
  transformConnectPostToGetRequest,
  validateResponse,
} from "@connectrpc/connect/protocol-connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { leanUnary } from "./unary-call.js";

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
  const useBinaryFormat = options.useBinaryFormat ?? false;
  const fetch = unreachableAsUnavailable(options.baseUrl, options.fetch);
  const interceptors = [...(options.interceptors ?? [])];
  const streaming = createConnectTransport({
    baseUrl: options.baseUrl,
    useBinaryFormat,
    useHttpGet: true,
    interceptors,
    ...(options.defaultTimeoutMs === undefined ? {} : { defaultTimeoutMs: options.defaultTimeoutMs }),
    fetch,
  });
  const methods = methodsOf(options.baseUrl, useBinaryFormat);
  return {
    unary: leanUnary({
      interceptors,
      defaultTimeoutMs: options.defaultTimeoutMs,
      send: sendUnary(fetch, methods, useBinaryFormat),
      urlOf: (method) => methods(method).url,
      headerOf: (method, timeoutMs, header) => requestHeader(method.methodKind, useBinaryFormat, timeoutMs, header, false),
    }),
    stream: (...args) => streaming.stream(...args),
  };
}

/** What a method's calls share: its URL and serializers, made on its first call. */
interface MethodWire extends ReturnType<typeof createClientMethodSerializers> {
  readonly url: string;
}

function methodsOf(baseUrl: string, useBinaryFormat: boolean): (method: DescMethod) => MethodWire {
  const made = new WeakMap<DescMethod, MethodWire>();
  return (method) => {
    let wire = made.get(method);
    if (wire === undefined) {
      wire = { url: createMethodUrl(baseUrl, method), ...createClientMethodSerializers(method as never, useBinaryFormat) };
      made.set(method, wire);
    }
    return wire;
  };
}

/** connect-web's: unknown JSON fields in an answer are ignored. */
const jsonOptions = getJsonOptions(undefined);

/** One unary request over fetch and its answer, checked as connect-web checks it. */
function sendUnary(fetch: typeof globalThis.fetch, methods: (method: DescMethod) => MethodWire, useBinaryFormat: boolean) {
  return async (request: UnaryRequest): Promise<UnaryResponse> => {
    const method = request.method;
    const { serialize, parse } = methods(method);
    let req = request;
    let body: Uint8Array | null = null;
    if (method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS) {
      req = transformConnectPostToGetRequest(request, serialize(request.message), useBinaryFormat);
    } else {
      body = serialize(request.message);
    }
    const response = await fetch(req.url, {
      redirect: "error",
      method: req.requestMethod,
      headers: req.header,
      signal: req.signal,
      body: body as BodyInit | null,
    });
    const { isUnaryError, unaryError } = validateResponse(method.methodKind, useBinaryFormat, response.status, response.headers);
    if (isUnaryError) {
      throw errorFromJson((await response.json()) as never, appendHeaders(...trailerDemux(response.headers)), unaryError);
    }
    const [header, trailer] = trailerDemux(response.headers);
    return {
      stream: false,
      service: method.parent,
      method,
      header,
      message: useBinaryFormat
        ? parse(new Uint8Array(await response.arrayBuffer()))
        : fromJson(method.output, (await response.json()) as never, jsonOptions),
      trailer,
    } as UnaryResponse;
  };
}

/** `fetch` (or the given one) failing as `unavailable` when the request never reached the server; an aborted request fails as fetch says. */
export function unreachableAsUnavailable(baseUrl: string, given: typeof globalThis.fetch | undefined): typeof globalThis.fetch {
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
