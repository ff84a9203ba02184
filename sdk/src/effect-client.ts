/**
 * The Effect client of a Meridian service: each unary method is an Effect and
 * each server-streaming method a Stream, failing with the service's typed errors.
 */
import { createClient, type CallOptions, type UnaryResponse } from "@connectrpc/connect";
import type {
  DescMessage,
  DescMethodServerStreaming,
  DescMethodUnary,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import { Effect, Stream } from "effect";
import { transportOf, typedErrorOf, type ClientError, type ClientTarget } from "./client.js";
import { isResilientTransport, type ResilientTransport } from "./policies/resilient-transport.js";
import type { MeridianService } from "./service.js";

/** Per-call options; cancellation is interruption of the Effect, so there is no `signal`. */
export type EffectCallOptions = Omit<CallOptions, "signal">;

/** The Effect client of a service: its unary and server-streaming methods, by local name. */
export type EffectClient<M extends MeridianService> = {
  readonly [P in keyof Methods<M> as Methods<M>[P] extends DescMethodUnary | DescMethodServerStreaming
    ? P
    : never]: EffectMethod<M, Methods<M>[P]>;
};

/** One method of an {@link EffectClient}. */
export type EffectMethod<M extends MeridianService, Method> =
  Method extends DescMethodUnary<infer I, infer O>
    ? (request: MessageInitShape<I>, options?: EffectCallOptions) => Effect.Effect<MessageShape<O>, ClientError<M>>
    : Method extends DescMethodServerStreaming<infer I, infer O>
      ? (request: MessageInitShape<I>, options?: EffectCallOptions) => Stream.Stream<MessageShape<O>, ClientError<M>>
      : never;

type Methods<M extends MeridianService> = M["desc"]["method"];

/**
 * An Effect client of the service: a call fails only with its typed errors
 * (domain, kit or RpcFailure), and interrupting it aborts the HTTP request.
 * Unary calls run the policies as Effects in the caller's fiber (its Clock, its interruption).
 * Client- and bidi-streaming methods are left out.
 */
export function createEffectClient<M extends MeridianService>(service: M, target: ClientTarget): EffectClient<M> {
  const transport = transportOf(target, service.domain);
  const promiseClient = createClient(service.desc, transport) as unknown as Record<string, PromiseMethod>;
  const toTypedError = (cause: unknown): ClientError<M> => typedErrorOf(service, cause);
  const client: Record<string, unknown> = {};
  for (const method of service.desc.methods) {
    const call = promiseClient[method.localName];
    if (call === undefined) continue;
    if (method.methodKind === "unary") {
      client[method.localName] = isResilientTransport(transport)
        ? resilientUnary(transport, method as DescMethodUnary, toTypedError)
        : unaryEffect(call, toTypedError);
    }
    if (method.methodKind === "server_streaming") client[method.localName] = serverStream(call, toTypedError);
  }
  return client as EffectClient<M>;
}

function resilientUnary<E>(
  transport: ResilientTransport,
  method: DescMethodUnary,
  toTypedError: (cause: unknown) => E,
) {
  return (request: unknown, options?: EffectCallOptions) =>
    transport.unaryEffectWith(
      method,
      options?.timeoutMs,
      options?.headers,
      request as MessageInitShape<DescMessage>,
      options?.contextValues,
      options?.onHeader === undefined && options?.onTrailer === undefined ? messageOf : withCallbacks(options),
      toTypedError,
    );
}

const messageOf = (response: UnaryResponse<DescMessage, DescMessage>) => response.message;

function withCallbacks(options: EffectCallOptions) {
  return (response: UnaryResponse<DescMessage, DescMessage>) => {
    options.onHeader?.(response.header);
    options.onTrailer?.(response.trailer);
    return response.message;
  };
}

/** A method of connect's client, seen untyped: a Promise (unary) or an AsyncIterable (server stream). */
type PromiseMethod = (request: unknown, options: CallOptions) => unknown;

function unaryEffect<E>(call: PromiseMethod, toTypedError: (cause: unknown) => E) {
  return (request: unknown, options?: EffectCallOptions) =>
    Effect.tryPromise({
      // Effect aborts this signal when the fiber is interrupted, which cancels the HTTP request.
      try: (signal) => call(request, { ...options, signal }) as Promise<unknown>,
      catch: toTypedError,
    });
}

function serverStream<E>(call: PromiseMethod, toTypedError: (cause: unknown) => E) {
  return (request: unknown, options?: EffectCallOptions) =>
    Stream.unwrap(
      Effect.map(
        // The stream's scope owns the request: it is aborted when the stream ends or is interrupted.
        Effect.acquireRelease(
          Effect.sync(() => new AbortController()),
          (controller) => Effect.sync(() => controller.abort()),
        ),
        (controller) =>
          Stream.fromAsyncIterable(
            call(request, { ...options, signal: controller.signal }) as AsyncIterable<unknown>,
            toTypedError,
          ),
      ),
    );
}
