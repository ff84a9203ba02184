/**
 * A Transport that puts the policies around one or more endpoint transports:
 * deadline on every call, retry (idempotent calls, budgeted, never past the
 * deadline), bulkhead per downstream, load balancing over endpoints that skips
 * open breakers, and a breaker per endpoint. Unary calls are an Effect
 * ({@link ResilientTransport.unaryEffect}); the Promise face shares its steps,
 * running a first attempt that can go at once as plain promises (an Effect run
 * costs more than the policies) and queueing and retries in the same Effect
 * pipeline. Streams get the deadline, balancing and breaker, not retries.
 */
import type { DescMessage, DescMethodStreaming, DescMethodUnary, MessageInitShape } from "@bufbuild/protobuf";
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
  readonly retryBudget: number;
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

  /** What one unary call carries from attempt to attempt. */
  interface Call<I extends DescMessage, O extends DescMessage> {
    readonly method: DescMethodUnary<I, O>;
    readonly header: HeadersInit | undefined;
    readonly input: MessageInitShape<I>;
    readonly contextValues: ContextValues | undefined;
    readonly rules: MethodPolicy;
    readonly now: () => number;
    readonly started: number;
    /** The call's whole deadline, ms, and when it passes. */
    readonly timeout: number;
    readonly deadlineAt: number;
    attempts: number;
    endpoint: string | undefined;
  }
  type AnyCall = Call<DescMessage, DescMessage>;

  function begin<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: MessageInitShape<I>,
    contextValues: ContextValues | undefined,
    now: () => number,
  ): Call<I, O> {
    const rules = methodPolicy(policy, method.localName);
    const started = now();
    const timeout = timeoutMs ?? rules.timeoutMs;
    budget.earn();
    return {
      method,
      header,
      input,
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
  function admit(call: AnyCall, at: number): BalancedEndpoint | ConnectError {
    const endpoint = balancer.pick(at);
    if (endpoint === undefined) return circuitOpen(allUrls);
    call.attempts++;
    call.endpoint = endpoint.url;
    endpoint.outstanding++;
    return endpoint;
  }

  /** An attempt ended: the endpoint's load goes down and its breaker hears the verdict (none if the caller gave up). */
  function settle(endpoint: BalancedEndpoint, error: ConnectError | undefined, cancelled: boolean, at: number): void {
    endpoint.outstanding--;
    if (endpoint.breaker === undefined) return;
    if (cancelled) endpoint.breaker.release();
    else endpoint.breaker.record(at, error?.code);
  }

  function report(call: AnyCall, error: ConnectError | undefined): void {
    hooks.onCallEnded?.({
      method: call.method,
      error,
      durationMs: call.now() - call.started,
      attempts: call.attempts,
      endpoint: call.endpoint,
      requestHeader: call.header,
    });
  }

  function mayRetry(call: AnyCall, error: ConnectError): boolean {
    const retry = call.rules.retry;
    return retry.maxAttempts > 1 && isRetryable(error, retry) && maySendTwice(call.method, call.header);
  }

  /** One attempt as an Effect: a slot in the bulkhead, an endpoint, the request (aborted if interrupted). */
  function attempt<I extends DescMessage, O extends DescMessage>(
    call: Call<I, O>,
  ): Effect.Effect<UnaryResponse<I, O>, ConnectError> {
    const send = Effect.suspend(() => {
      const at = call.now();
      const endpoint = admit(call as AnyCall, at);
      if (endpoint instanceof ConnectError) return Effect.fail(endpoint);
      // The first attempt carries the whole deadline downstream, a retry what is left of it.
      const timeout = call.attempts === 1 ? call.timeout : Math.max(1, call.deadlineAt - at);
      return Effect.onExit(
        Effect.tryPromise({
          try: (signal) =>
            endpoint.transport.unary(call.method, signal, timeout, call.header, call.input, call.contextValues),
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
   * The retries after a failed attempt: the schedule (backoff, budget, deadline)
   * is stepped only now, so a call that succeeds at once pays nothing for it.
   */
  function retrying<I extends DescMessage, O extends DescMessage>(
    call: Call<I, O>,
    first: ConnectError,
  ): Effect.Effect<UnaryResponse<I, O>, ConnectError> {
    const retry = call.rules.retry;
    const schedule = retrySchedule(retry, (error, delayMs, retryNumber) => {
      if (!isRetryable(error, retry)) return false;
      if (call.now() + delayMs >= call.deadlineAt) return false; // never past the deadline
      if (!budget.trySpend()) return false;
      hooks.onRetry?.({ method: call.method, attempt: retryNumber, delayMs, error });
      return true;
    });
    return Effect.flatMap(Schedule.toStepWithMetadata(schedule), (step) => {
      const next = (error: ConnectError): Effect.Effect<UnaryResponse<I, O>, ConnectError> =>
        Pull.matchEffect(step(error), {
          onSuccess: () => Effect.catch(attempt(call), next),
          onFailure: Effect.failCause,
          onDone: () =>
            Effect.fail(call.attempts > 1 && isRetryable(error, retry) ? retriesExhausted(call.attempts, error) : error),
        });
      return next(first);
    });
  }

  /** Reports the call's outcome to the hooks when the program ends. */
  function reported<A>(call: AnyCall, program: Effect.Effect<A, ConnectError>): Effect.Effect<A, ConnectError> {
    if (hooks.onCallEnded === undefined) return program;
    return Effect.onExit(program, (exit) =>
      Effect.sync(() => report(call, Exit.isSuccess(exit) ? undefined : errorOf(exit.cause))),
    );
  }

  /**
   * A first attempt that holds a bulkhead slot already, as plain promises:
   * admission, the whole deadline downstream, the breaker's verdict, the slot
   * given back. Both faces take this path when nothing has to wait, because an
   * Effect per step costs more than the policies themselves.
   */
  function firstAttempt<I extends DescMessage, O extends DescMessage>(
    call: Call<I, O>,
    signal: AbortSignal | undefined,
  ): Promise<UnaryResponse<I, O>> {
    const endpoint = admit(call as AnyCall, call.started);
    if (endpoint instanceof ConnectError) {
      bulkhead?.leave();
      return Promise.reject(endpoint);
    }
    return endpoint.transport.unary(call.method, signal, call.timeout, call.header, call.input, call.contextValues).then(
      (response) => {
        settle(endpoint, undefined, false, call.now());
        bulkhead?.leave();
        return response;
      },
      (cause: unknown) => {
        const error = ConnectError.from(cause);
        settle(endpoint, error, signal?.aborted === true, call.now());
        bulkhead?.leave();
        throw error;
      },
    );
  }

  function unaryEffect<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: MessageInitShape<I>,
    contextValues?: ContextValues,
  ): Effect.Effect<UnaryResponse<I, O>, ConnectError> {
    return Clock.clockWith((clock) => {
      const call = begin(method, timeoutMs, header, input, contextValues, () => clock.currentTimeMillisUnsafe());
      if (call.timeout <= 0) return reported(call as AnyCall, Effect.fail(deadlineExceeded(0)));
      const first =
        bulkhead === undefined || bulkhead.tryEnter()
          ? Effect.tryPromise({ try: (signal) => firstAttempt(call, signal), catch: (e) => ConnectError.from(e) })
          : attempt(call);
      const program = Effect.catch(first, (error) =>
        mayRetry(call as AnyCall, error) ? retrying(call, error) : Effect.fail(error),
      );
      return reported(call as AnyCall, program);
    });
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
      return runUnary(unaryEffect(method, timeoutMs, header, input, contextValues), signal);
    }
    const call = begin(method, timeoutMs, header, input, contextValues, Date.now);
    const fail = (error: ConnectError) => {
      report(call as AnyCall, error);
      return Promise.reject(error);
    };
    if (call.timeout <= 0) {
      bulkhead?.leave();
      return fail(deadlineExceeded(0));
    }
    return firstAttempt(call, signal).then(
      (response) => {
        report(call as AnyCall, undefined);
        return response;
      },
      (error: ConnectError) => {
        if (signal?.aborted === true || !mayRetry(call as AnyCall, error)) return fail(error);
        return runUnary(reported(call as AnyCall, retrying(call, error)), signal);
      },
    );
  }

  async function stream<I extends DescMessage, O extends DescMessage>(
    method: DescMethodStreaming<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: AsyncIterable<MessageInitShape<I>>,
    contextValues?: ContextValues,
  ): Promise<StreamResponse<I, O>> {
    const endpoint = balancer.pick(Date.now());
    if (endpoint === undefined) throw circuitOpen(allUrls);
    endpoint.outstanding++;
    try {
      // A stream has no default deadline (it may be meant to run for hours); one given is passed on.
      const response = await endpoint.transport.stream(method, signal, timeoutMs, header, input, contextValues);
      endpoint.breaker?.record(Date.now(), undefined);
      return response;
    } catch (e) {
      const error = ConnectError.from(e);
      if (error.code === Code.Canceled) endpoint.breaker?.release();
      else endpoint.breaker?.record(Date.now(), error.code);
      throw error;
    } finally {
      endpoint.outstanding--;
    }
  }

  return {
    [resilient]: true,
    downstream: options.downstream,
    policy,
    unaryEffect,
    unary,
    stream,
    methodPolicy: (localName) => methodPolicy(policy, localName),
    state: () => ({
      downstream: options.downstream,
      endpoints: endpoints.map((e) => ({ url: e.url, breaker: e.breaker?.state ?? "closed", outstanding: e.outstanding })),
      bulkhead: bulkhead === undefined ? undefined : { active: bulkhead.active, queued: bulkhead.queued },
      retryBudget: budget.balance,
    }),
  } as ResilientTransport;
}

/** Runs a call for the Promise face: rejects with the ConnectError, or `canceled` when the signal aborted it. */
async function runUnary<A>(effect: Effect.Effect<A, ConnectError>, signal: AbortSignal | undefined): Promise<A> {
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
