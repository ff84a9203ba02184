/**
 * A Transport that puts the policies around one or more endpoint transports:
 * deadline on every call, retry (idempotent calls, budgeted, never past the
 * deadline), bulkhead per downstream, load balancing over endpoints that skips
 * open breakers, and a breaker per endpoint. Unary calls are an Effect
 * ({@link ResilientTransport.unaryEffect}); the Promise face shares its steps,
 * running a first attempt that can go at once as plain promises (an Effect run
 * costs more than the policies) and queueing and retries in the same Effect
 * pipeline. Streams get the deadline, balancing, breaker and a bulkhead slot
 * for their whole life; a server stream is retried as a unary call is, but only
 * until its first message.
 */
import type {
  DescMessage,
  DescMethod,
  DescMethodStreaming,
  DescMethodUnary,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextValues,
  type StreamResponse,
  type Transport,
  type UnaryResponse,
} from "@connectrpc/connect";
import { Cause, Clock, Effect, Exit, Pull, Schedule } from "effect";
import { Balancer, type BalancedEndpoint } from "./balancer.js";
import { CircuitBreaker, type BreakerState } from "./breaker.js";
import { Bulkhead } from "./bulkhead.js";
import type { ClientHooks } from "./hooks.js";
import { methodPolicy, resolvePolicy, type ClientPolicy, type MethodPolicy, type PolicyOptions } from "./policy.js";
import { circuitOpen, deadlineExceeded, retriesExhausted } from "./refusals.js";
import { isRetryable, maySendTwice, retrySchedule, RetryBudget } from "./retry.js";

/** One endpoint of a downstream: its address (for breakers, logs, metrics) and the transport that reaches it. */
export interface Endpoint {
  readonly url: string;
  readonly transport: Transport;
}

/** What a resilient transport is made of. */
export interface ResilientTransportOptions {
  /** The downstream's name, e.g. "universe": in BulkheadFull, logs and metrics. */
  readonly downstream: string;
  /** At least one. */
  readonly endpoints: ReadonlyArray<Endpoint>;
  /** Anything left out keeps its default ({@link defaultPolicy}). */
  readonly policy?: PolicyOptions;
  readonly hooks?: ClientHooks;
}

/** The live state of a resilient transport, for metrics and readiness. */
export interface ResilienceState {
  readonly downstream: string;
  readonly endpoints: ReadonlyArray<{ readonly url: string; readonly breaker: BreakerState; readonly outstanding: number }>;
  /** Undefined when the bulkhead is off. */
  readonly bulkhead: { readonly active: number; readonly queued: number } | undefined;
  /** Retry tokens left: each call earns a share of one, each retry spends one. */
  readonly retryBudget: number;
  /** Retries the budget has refused since the start (each one a call that failed instead). */
  readonly retriesRefused: number;
}

/** A transport with policies; also the Effect face of its unary calls. */
export interface ResilientTransport extends Transport {
  readonly downstream: string;
  readonly policy: ClientPolicy;
  /**
   * A unary call as an Effect that fails with the ConnectError to report;
   * interrupting it aborts the request in flight. `timeoutMs` replaces the
   * method's default deadline; 0 or less means the deadline has already passed.
   */
  unaryEffect<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: MessageInitShape<I>,
    contextValues?: ContextValues,
  ): Effect.Effect<UnaryResponse<I, O>, ConnectError>;
  /**
   * {@link unaryEffect} ending in `onResponse` or `onError` (the Effect client's
   * message and typed error), applied in the call's own step rather than as two more Effects.
   */
  unaryEffectWith<I extends DescMessage, O extends DescMessage, A, E>(
    method: DescMethodUnary<I, O>,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: MessageInitShape<I>,
    contextValues: ContextValues | undefined,
    onResponse: (response: UnaryResponse<I, O>) => A,
    onError: (error: ConnectError) => E,
  ): Effect.Effect<A, E>;
  /** The timeout and retry policy of a method, by local name. */
  methodPolicy(localName: string): MethodPolicy;
  /** Breakers, bulkhead and budget as they stand. */
  state(): ResilienceState;
}

/** True for a transport made by {@link createResilientTransport}. */
export function isResilientTransport(transport: Transport): transport is ResilientTransport {
  return resilient in transport;
}

const resilient = Symbol.for("@meridian/sdk/ResilientTransport");

/**
 * Wraps endpoint transports in the policies: every call has a deadline, only
 * idempotent calls are retried and never past it, an open breaker or a full
 * bulkhead fails fast with CircuitOpen or BulkheadFull.
 */
export function createResilientTransport(options: ResilientTransportOptions): ResilientTransport {
  if (options.endpoints.length === 0) throw new TypeError(`${options.downstream}: no endpoint to call`);
  const policy = resolvePolicy(options.policy);
  const hooks = options.hooks ?? {};
  const endpoints: BalancedEndpoint[] = options.endpoints.map(({ url, transport }) => ({
    url,
    transport,
    outstanding: 0,
    breaker:
      policy.breaker === false
        ? undefined
        : new CircuitBreaker(policy.breaker, (to, from) => hooks.onBreakerTransition?.({ endpoint: url, from, to })),
  }));
  const balancer = new Balancer(policy.balancer, endpoints);
  const bulkhead = policy.bulkhead === false ? undefined : new Bulkhead(options.downstream, policy.bulkhead);
  const budget = new RetryBudget(policy.retryBudget);
  const allUrls = endpoints.map((e) => e.url).join(",");

  /** What one call carries from attempt to attempt. */
  interface Call {
    readonly method: DescMethod;
    readonly header: HeadersInit | undefined;
    readonly contextValues: ContextValues | undefined;
    readonly rules: MethodPolicy;
    readonly now: () => number;
    readonly started: number;
    /** The call's whole deadline, ms (infinite: none, a stream's default), and when it passes. */
    readonly timeout: number;
    readonly deadlineAt: number;
    attempts: number;
    endpoint: string | undefined;
  }

  function begin(
    method: DescMethod,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    contextValues: ContextValues | undefined,
    now: () => number,
  ): Call {
    const rules = methodPolicy(policy, method.localName);
    const started = now();
    // A stream has no default deadline (it may be meant to run for hours); one given is passed on.
    const timeout = timeoutMs ?? (method.methodKind === "unary" ? rules.timeoutMs : Number.POSITIVE_INFINITY);
    budget.earn();
    return {
      method,
      header,
      contextValues,
      rules,
      now,
      started,
      timeout,
      deadlineAt: started + timeout,
      attempts: 0,
      endpoint: undefined,
    };
  }

  /** Picks an endpoint whose breaker lets the call through and counts the attempt on it. */
  function admit(call: Call, at: number): BalancedEndpoint | ConnectError {
    const endpoint = balancer.pick(at);
    if (endpoint === undefined) return circuitOpen(allUrls);
    call.attempts++;
    call.endpoint = endpoint.url;
    endpoint.outstanding++;
    return endpoint;
  }

  /** The deadline an attempt sends: the first the call's whole one, a retry what is left of it; none for a stream without one. */
  function attemptTimeout(call: Call, at: number): number | undefined {
    if (!Number.isFinite(call.deadlineAt)) return undefined;
    return call.attempts === 1 ? call.timeout : Math.max(1, call.deadlineAt - at);
  }

  /** An attempt ended: the endpoint's load goes down and its breaker hears the verdict (none if the caller gave up). */
  function settle(endpoint: BalancedEndpoint, error: ConnectError | undefined, cancelled: boolean, at: number): void {
    endpoint.outstanding--;
    judge(endpoint, error, cancelled, at);
  }

  function judge(endpoint: BalancedEndpoint, error: ConnectError | undefined, cancelled: boolean, at: number): void {
    if (endpoint.breaker === undefined) return;
    if (cancelled) endpoint.breaker.release();
    else endpoint.breaker.record(at, error?.code);
  }

  function report(call: Call, error: ConnectError | undefined): void {
    if (hooks.onCallEnded === undefined) return;
    hooks.onCallEnded({
      method: call.method,
      error,
      durationMs: call.now() - call.started,
      attempts: call.attempts,
      endpoint: call.endpoint,
      requestHeader: call.header,
    });
  }

  /** The Promise face's end of a failed call: the hooks hear it, the caller gets the error. */
  function failed<A>(call: Call, error: ConnectError): Promise<A> {
    report(call, error);
    return Promise.reject(error);
  }

  function mayRetry(call: Call, error: ConnectError): boolean {
    const retry = call.rules.retry;
    return retry.maxAttempts > 1 && isRetryable(error, retry) && maySendTwice(call.method, call.header);
  }

  /** One unary attempt as an Effect: a slot in the bulkhead, an endpoint, the request (aborted if interrupted). */
  function attempt<I extends DescMessage, O extends DescMessage>(
    call: Call,
    input: MessageInitShape<I>,
  ): Effect.Effect<UnaryResponse<I, O>, ConnectError> {
    const method = call.method as DescMethodUnary<I, O>;
    const send = Effect.suspend(() => {
      const at = call.now();
      const endpoint = admit(call, at);
      if (endpoint instanceof ConnectError) return Effect.fail(endpoint);
      const timeout = attemptTimeout(call, at);
      return Effect.onExit(
        Effect.tryPromise({
          try: (signal) => endpoint.transport.unary(method, signal, timeout, call.header, input, call.contextValues),
          catch: (e) => ConnectError.from(e),
        }),
        (exit) =>
          Effect.sync(() => {
            const error = Exit.isSuccess(exit) ? undefined : Cause.findErrorOption(exit.cause);
            settle(endpoint, error?._tag === "Some" ? error.value : undefined, error?._tag === "None", call.now());
          }),
      );
    });
    return bulkhead === undefined ? send : bulkhead.run(send, () => call.deadlineAt - call.now());
  }

  /**
   * The retries after a failed attempt, each one `again`: the schedule
   * (backoff, budget, deadline) is stepped only now, so a call that succeeds at once pays nothing for it.
   */
  function retrying<A>(
    call: Call,
    first: ConnectError,
    again: Effect.Effect<A, ConnectError>,
  ): Effect.Effect<A, ConnectError> {
    const retry = call.rules.retry;
    const schedule = retrySchedule(retry, (error, delayMs, retryNumber) => {
      if (!isRetryable(error, retry)) return false;
      if (call.now() + delayMs >= call.deadlineAt) return false; // never past the deadline
      if (!budget.trySpend()) return false;
      hooks.onRetry?.({ method: call.method, attempt: retryNumber, delayMs, error });
      return true;
    });
    return Effect.flatMap(Schedule.toStepWithMetadata(schedule), (step) => {
      const next = (error: ConnectError): Effect.Effect<A, ConnectError> =>
        Pull.matchEffect(step(error), {
          onSuccess: () => Effect.catch(again, next),
          onFailure: Effect.failCause,
          onDone: () =>
            Effect.fail(call.attempts > 1 && isRetryable(error, retry) ? retriesExhausted(call.attempts, error) : error),
        });
      return next(first);
    });
  }

  /** Reports the call's outcome to the hooks when the program ends. */
  function reported<A>(call: Call, program: Effect.Effect<A, ConnectError>): Effect.Effect<A, ConnectError> {
    if (hooks.onCallEnded === undefined) return program;
    return Effect.onExit(program, (exit) =>
      Effect.sync(() => report(call, Exit.isSuccess(exit) ? undefined : errorOf(exit.cause))),
    );
  }

  /**
   * A first attempt that holds a bulkhead slot already, as plain promises:
   * admission, the whole deadline downstream, the breaker's verdict, the slot
   * given back, then `onResponse` or `onError` in the same step. Both faces take
   * this path when nothing has to wait, because an Effect per step (or one more
   * promise per call) costs more than the policies themselves.
   */
  function firstAttempt<I extends DescMessage, O extends DescMessage, A>(
    call: Call,
    input: MessageInitShape<I>,
    signal: AbortSignal | undefined,
    onResponse: (response: UnaryResponse<I, O>) => A,
    onError: (error: ConnectError) => A | Promise<A>,
  ): Promise<A> {
    const endpoint = admit(call, call.started);
    if (endpoint instanceof ConnectError) {
      bulkhead?.leave();
      return Promise.resolve(onError(endpoint));
    }
    let sent: Promise<UnaryResponse<I, O>>;
    try {
      sent = endpoint.transport.unary(
        call.method as DescMethodUnary<I, O>,
        signal,
        call.timeout,
        call.header,
        input,
        call.contextValues,
      );
    } catch (e) {
      sent = Promise.reject(e);
    }
    return sent.then(
      (response) => {
        settle(endpoint, undefined, false, call.now());
        bulkhead?.leave();
        return onResponse(response);
      },
      (cause: unknown) => {
        const error = ConnectError.from(cause);
        settle(endpoint, error, signal?.aborted === true, call.now());
        bulkhead?.leave();
        return onError(error);
      },
    );
  }

  /** A unary call whose first attempt could not go at once (the bulkhead queue), or that is retried: the Effect pipeline. */
  function queuedOrRetried<I extends DescMessage, O extends DescMessage>(
    call: Call,
    input: MessageInitShape<I>,
    first: Effect.Effect<UnaryResponse<I, O>, ConnectError>,
  ): Effect.Effect<UnaryResponse<I, O>, ConnectError> {
    return reported(
      call,
      Effect.catch(first, (error) => (mayRetry(call, error) ? retrying(call, error, attempt<I, O>(call, input)) : Effect.fail(error))),
    );
  }

  function unaryEffectWith<I extends DescMessage, O extends DescMessage, A, E>(
    method: DescMethodUnary<I, O>,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: MessageInitShape<I>,
    contextValues: ContextValues | undefined,
    onResponse: (response: UnaryResponse<I, O>) => A,
    onError: (error: ConnectError) => E,
  ): Effect.Effect<A, E> {
    return Effect.withFiber((fiber) => {
      const clock = fiber.getRef(Clock.Clock);
      const call = begin(method, timeoutMs, header, contextValues, () => clock.currentTimeMillisUnsafe());
      if (call.timeout <= 0) {
        const error = deadlineExceeded(0);
        return finish(() => {
          report(call, error);
          return Effect.fail(onError(error));
        });
      }
      if (bulkhead !== undefined && !bulkhead.tryEnter()) {
        return Effect.mapBoth(queuedOrRetried(call, input, attempt<I, O>(call, input)), {
          onSuccess: onResponse,
          onFailure: onError,
        });
      }
      // Nothing has to wait: one async step around the first attempt's promise, the cheapest an Effect call can be.
      return Effect.callback<A, E>((resume, signal) => {
        void firstAttempt<I, O, void>(
          call,
          input,
          signal,
          (response) =>
            resume(
              finish(() => {
                report(call, undefined);
                return Effect.succeed(onResponse(response));
              }),
            ),
          (error: ConnectError) => {
            if (!signal.aborted && mayRetry(call, error)) {
              const retried = reported(call, retrying(call, error, attempt<I, O>(call, input)));
              return resume(Effect.mapBoth(retried, { onSuccess: onResponse, onFailure: onError }));
            }
            // Interrupted: the fiber has moved on, the hooks still hear how the call ended.
            resume(
              finish(() => {
                report(call, error);
                return Effect.fail(onError(error));
              }),
            );
          },
        );
      });
    });
  }

  function unaryEffect<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: MessageInitShape<I>,
    contextValues?: ContextValues,
  ): Effect.Effect<UnaryResponse<I, O>, ConnectError> {
    return unaryEffectWith(method, timeoutMs, header, input, contextValues, identity, identity);
  }

  /** The Promise face: the same steps; when something has to wait (queue, retries) it runs the Effect pipeline. */
  function unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: MessageInitShape<I>,
    contextValues?: ContextValues,
  ): Promise<UnaryResponse<I, O>> {
    if (bulkhead !== undefined && !bulkhead.tryEnter()) {
      return runCall(unaryEffect(method, timeoutMs, header, input, contextValues), signal);
    }
    const call = begin(method, timeoutMs, header, contextValues, Date.now);
    if (call.timeout <= 0) {
      bulkhead?.leave();
      return failed(call, deadlineExceeded(0));
    }
    return firstAttempt<I, O, UnaryResponse<I, O>>(
      call,
      input,
      signal,
      (response) => {
        report(call, undefined);
        return response;
      },
      (error: ConnectError) => {
        if (signal?.aborted === true || !mayRetry(call, error)) return failed(call, error);
        return runCall(reported(call, retrying(call, error, attempt<I, O>(call, input))), signal);
      },
    );
  }

  /**
   * A stream as an Effect: it holds a bulkhead slot from its start to its end;
   * a server stream safe to send twice is retried like a unary call (budget,
   * backoff, deadline), but only while no message has come: the first message
   * is read before the stream is handed over, and a failure after it is the
   * caller's to see (a retry would send the messages again).
   */
  function streamEffect<I extends DescMessage, O extends DescMessage>(
    method: DescMethodStreaming<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: AsyncIterable<MessageInitShape<I>>,
    contextValues: ContextValues | undefined,
  ): Effect.Effect<StreamResponse<I, O>, ConnectError> {
    return Effect.withFiber((fiber) => {
      const clock = fiber.getRef(Clock.Clock);
      const call = begin(method, timeoutMs, header, contextValues, () => clock.currentTimeMillisUnsafe());
      if (call.timeout <= 0) return Effect.fail(deadlineExceeded(0));
      // Only a server stream's one request can be sent again; a client's stream of messages cannot.
      const replayable = method.methodKind === "server_streaming" && call.rules.retry.maxAttempts > 1 && maySendTwice(method, header);
      const opened = replayable
        ? Effect.flatMap(
            Effect.tryPromise({ try: () => Array.fromAsync(input), catch: (e) => ConnectError.from(e) }),
            (messages) => {
              const once = streamAttempt<I, O>(call, signal, () => replay(messages));
              return Effect.catch(once, (error) => (mayRetry(call, error) ? retrying(call, error, once) : Effect.fail(error)));
            },
          )
        : streamAttempt<I, O>(call, signal, () => input);
      if (bulkhead === undefined) return opened;
      return Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(restore(bulkhead.enter(() => call.deadlineAt - call.now())), () =>
          Effect.onError(restore(opened), () => Effect.sync(() => bulkhead.leave())),
        ),
      );
    });
  }

  /** One attempt to open a stream: an endpoint, the request, its first message (or its end). */
  function streamAttempt<I extends DescMessage, O extends DescMessage>(
    call: Call,
    signal: AbortSignal | undefined,
    input: () => AsyncIterable<MessageInitShape<I>>,
  ): Effect.Effect<StreamResponse<I, O>, ConnectError> {
    const method = call.method as DescMethodStreaming<I, O>;
    return Effect.suspend(() => {
      const at = call.now();
      const endpoint = admit(call, at);
      if (endpoint instanceof ConnectError) return Effect.fail(endpoint);
      const timeout = attemptTimeout(call, at);
      return Effect.callback<StreamResponse<I, O>, ConnectError>((resume) => {
        let gaveUp = false;
        openStream(endpoint.transport, method, signal, timeout, call.header, input(), call.contextValues).then(
          ({ response, messages, first }) => {
            judge(endpoint, undefined, false, call.now());
            const end = () => {
              endpoint.outstanding--;
              bulkhead?.leave();
            };
            if (!gaveUp) return resume(Effect.succeed({ ...response, message: holding(first, messages, signal, end) }));
            endpoint.outstanding--; // the caller is gone (its slot was given back when it gave up)
            void messages.return?.();
          },
          (cause: unknown) => {
            const error = ConnectError.from(cause);
            settle(endpoint, error, gaveUp || error.code === Code.Canceled, call.now());
            resume(Effect.fail(error));
          },
        );
        return Effect.sync(() => {
          gaveUp = true;
        });
      });
    });
  }

  function stream<I extends DescMessage, O extends DescMessage>(
    method: DescMethodStreaming<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: AsyncIterable<MessageInitShape<I>>,
    contextValues?: ContextValues,
  ): Promise<StreamResponse<I, O>> {
    return runCall(streamEffect(method, signal, timeoutMs, header, input, contextValues), signal);
  }

  return {
    [resilient]: true,
    downstream: options.downstream,
    policy,
    unaryEffect,
    unaryEffectWith,
    unary,
    stream,
    methodPolicy: (localName) => methodPolicy(policy, localName),
    state: () => ({
      downstream: options.downstream,
      endpoints: endpoints.map((e) => ({ url: e.url, breaker: e.breaker?.state ?? "closed", outstanding: e.outstanding })),
      bulkhead: bulkhead === undefined ? undefined : { active: bulkhead.active, queued: bulkhead.queued },
      retryBudget: budget.balance,
      retriesRefused: budget.refused,
    }),
  } as ResilientTransport;
}

/** Runs a call for the Promise face: rejects with the ConnectError, or `canceled` when the signal aborted it. */
async function runCall<A>(effect: Effect.Effect<A, ConnectError>, signal: AbortSignal | undefined): Promise<A> {
  const exit = await Effect.runPromiseExit(effect, signal === undefined ? undefined : { signal });
  if (Exit.isSuccess(exit)) return exit.value;
  throw errorOf(exit.cause, signal);
}

function errorOf(cause: Cause.Cause<ConnectError>, signal?: AbortSignal): ConnectError {
  const error = Cause.findErrorOption(cause);
  if (error._tag === "Some") return error.value;
  if (signal?.aborted) return ConnectError.from(signal.reason, Code.Canceled);
  if (Cause.hasInterruptsOnly(cause)) return new ConnectError("the call was cancelled", Code.Canceled);
  return ConnectError.from(Cause.squash(cause));
}

const identity = <A>(a: A): A => a;

/** The Effect a call resumes with, built by code of the caller's (hooks, `onResponse`): if it throws, a defect, not a fiber left waiting. */
function finish<A, E>(build: () => Effect.Effect<A, E>): Effect.Effect<A, E> {
  try {
    return build();
  } catch (e) {
    return Effect.die(e);
  }
}

/** A server stream's request, as a fresh iterable for each attempt. */
async function* replay<T>(messages: ReadonlyArray<T>): AsyncIterable<T> {
  yield* messages;
}

/**
 * Opens a stream; a server stream's first message (or its end) is read too:
 * what decides whether it may still be retried. A client or bidi stream is
 * handed over at once (its server may wait for messages the caller sends only later).
 */
async function openStream<I extends DescMessage, O extends DescMessage>(
  transport: Transport,
  method: DescMethodStreaming<I, O>,
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
  header: HeadersInit | undefined,
  input: AsyncIterable<MessageInitShape<I>>,
  contextValues: ContextValues | undefined,
): Promise<{
  response: StreamResponse<I, O>;
  messages: AsyncIterator<MessageShape<O>>;
  first: IteratorResult<MessageShape<O>> | undefined;
}> {
  const response = await transport.stream(method, signal, timeoutMs, header, input, contextValues);
  const messages = response.message[Symbol.asyncIterator]();
  const first = method.methodKind === "server_streaming" ? await messages.next() : undefined;
  return { response, messages, first };
}

/**
 * The messages of an opened stream, its first one already read if given. `end`
 * runs once, when the stream ends or fails, when its reader stops (`return`) or
 * when its signal aborts: the stream's bulkhead slot and its endpoint's load go back.
 */
function holding<T>(
  first: IteratorResult<T> | undefined,
  messages: AsyncIterator<T>,
  signal: AbortSignal | undefined,
  end: () => void,
): AsyncIterable<T> {
  let ended = false;
  const finished = () => {
    if (ended) return;
    ended = true;
    signal?.removeEventListener("abort", finished);
    end();
  };
  if (first?.done === true) finished();
  else signal?.addEventListener("abort", finished);
  let pending: IteratorResult<T> | undefined = first;
  const iterator: AsyncIterator<T> = {
    next: async () => {
      if (pending !== undefined) {
        const result = pending;
        pending = undefined;
        return result;
      }
      try {
        const result = await messages.next();
        if (result.done === true) finished();
        return result;
      } catch (e) {
        finished();
        throw e;
      }
    },
    return: async (value?: unknown) => {
      finished();
      return (await messages.return?.(value)) ?? { done: true, value: undefined };
    },
  };
  return { [Symbol.asyncIterator]: () => iterator };
}
