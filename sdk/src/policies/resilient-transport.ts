/**
 * A Transport that puts the policies around one or more endpoint transports:
 * deadline on every call, retry (idempotent calls, budgeted, never past the
 * deadline), bulkhead per downstream, load balancing over endpoints that skips
 * open breakers, and a breaker per endpoint. Unary calls are one Effect
 * ({@link ResilientTransport.unaryEffect}); the Promise face runs that Effect,
 * so both faces behave the same. Streams get the deadline, balancing and breaker, not retries.
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

  function unaryEffect<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: MessageInitShape<I>,
    contextValues?: ContextValues,
  ): Effect.Effect<UnaryResponse<I, O>, ConnectError> {
    return Clock.clockWith((clock) => {
      const started = clock.currentTimeMillisUnsafe();
      const rules = methodPolicy(policy, method.localName);
      const timeout = timeoutMs ?? rules.timeoutMs;
      if (timeout <= 0) return Effect.fail(deadlineExceeded(0));
      const deadlineAt = started + timeout;
      let attempts = 0;
      let endpointUrl: string | undefined;
      budget.earn();

      const send = Effect.suspend(() => {
        const at = clock.currentTimeMillisUnsafe();
        const endpoint = balancer.pick(at);
        if (endpoint === undefined) return Effect.fail(circuitOpen(allUrls));
        // The first attempt passes on the whole deadline; a retry what is left of it (connect-timeout-ms / grpc-timeout).
        const remaining = attempts === 0 ? timeout : Math.max(1, deadlineAt - at);
        attempts++;
        endpointUrl = endpoint.url;
        endpoint.outstanding++;
        return Effect.onExit(
          Effect.tryPromise({
            try: (signal) => endpoint.transport.unary(method, signal, remaining, header, input, contextValues),
            catch: (e) => ConnectError.from(e),
          }),
          (exit) => Effect.sync(() => settle(endpoint, exit, clock.currentTimeMillisUnsafe())),
        );
      });

      const attempt =
        bulkhead === undefined ? send : bulkhead.run(send, () => deadlineAt - clock.currentTimeMillisUnsafe());

      const retry = rules.retry;
      // The schedule is stepped only after a failure: a call that succeeds at once pays nothing for retries.
      type Outcome = Effect.Effect<UnaryResponse<I, O>, ConnectError>;
      const retrying = (first: ConnectError): Outcome => {
        if (!isRetryable(first, retry)) return Effect.fail(first);
        const schedule = retrySchedule(retry, (error, delayMs, retryNumber) => {
          if (!isRetryable(error, retry)) return false;
          if (clock.currentTimeMillisUnsafe() + delayMs >= deadlineAt) return false; // never past the deadline
          if (!budget.trySpend()) return false;
          hooks.onRetry?.({ method, attempt: retryNumber, delayMs, error });
          return true;
        });
        return Effect.flatMap(Schedule.toStepWithMetadata(schedule), (step) => {
          const next = (error: ConnectError): Outcome =>
            Pull.matchEffect(step(error), {
              onSuccess: () => Effect.catch(attempt, next),
              onFailure: Effect.failCause,
              onDone: () =>
                Effect.fail(attempts > 1 && isRetryable(error, retry) ? retriesExhausted(attempts, error) : error),
            });
          return next(first);
        });
      };
      const program =
        retry.maxAttempts > 1 && maySendTwice(method, header) ? Effect.catch(attempt, retrying) : attempt;

      const onCallEnded = hooks.onCallEnded;
      if (onCallEnded === undefined) return program;
      return Effect.onExit(program, (exit) =>
        Effect.sync(() =>
          onCallEnded({
            method,
            error: Exit.isSuccess(exit) ? undefined : errorOf(exit.cause),
            durationMs: clock.currentTimeMillisUnsafe() - started,
            attempts,
            endpoint: endpointUrl,
            requestHeader: header,
          }),
        ),
      );
    });
  }

  /** An attempt ended: the endpoint's load goes down and its breaker hears the verdict. */
  function settle(endpoint: BalancedEndpoint, exit: Exit.Exit<unknown, ConnectError>, at: number): void {
    endpoint.outstanding--;
    const breaker = endpoint.breaker;
    if (breaker === undefined) return;
    if (Exit.isSuccess(exit)) return breaker.record(at, undefined);
    const error = Cause.findErrorOption(exit.cause);
    if (error._tag === "Some") breaker.record(at, error.value.code);
    else breaker.release(); // interrupted: the caller gave up, no verdict on the endpoint
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
    unary: (method, signal, timeoutMs, header, input, contextValues) =>
      runUnary(unaryEffect(method, timeoutMs, header, input, contextValues), signal),
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
