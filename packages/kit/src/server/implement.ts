/**
 * Effect handlers → a Connect service implementation. A handler is
 * `(request) => Effect<Response, E, R>` (or a `Stream` for server-streaming
 * methods), where E are the service's typed errors and R its resources, read
 * from the context the service's Layers built. The adapter runs it with the
 * call's deadline (capped), its abort signal, and its {@link RequestContext},
 * and turns any failure into the Connect error to send.
 */
import { ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type {
  Message,
  DescMethod,
  DescMethodServerStreaming,
  DescMethodUnary,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import { Cause, Context, Effect, Exit, Stream } from "effect";
import type { DomainErrorOf, KitError, MeridianService } from "@meridian/sdk";
import { DeadlineExceeded, toWireError, Unavailable } from "../errors.js";
import type { Admission } from "./admission.js";
import { redactedJson } from "../telemetry/redact.js";
import { traceHeadersOf } from "../telemetry/tracing.js";
import { callRecordOf, logFieldsOf, RequestContext, type CallRecord, type RequestInfo } from "./call.js";

/** The errors a handler of service M may fail with: its domain errors and the kit's. */
export type HandlerError<M extends MeridianService> = DomainErrorOf<M> | KitError;

/** The Effect handler of one method: unary → Effect, server-streaming → Stream. */
export type EffectHandler<Method, E, R> =
  Method extends DescMethodUnary<infer I, infer O>
    ? (request: MessageShape<I>) => Effect.Effect<MessageInitShape<O>, E, R | RequestContext>
    : Method extends DescMethodServerStreaming<infer I, infer O>
      ? (request: MessageShape<I>) => Stream.Stream<MessageInitShape<O>, E, R | RequestContext>
      : never;

/** One Effect handler per method of the service. */
export type EffectHandlers<M extends MeridianService, R> = {
  readonly [K in keyof M["desc"]["method"]]: EffectHandler<M["desc"]["method"][K], HandlerError<M>, R>;
};

/** The resources (Effect context) the handlers need, inferred from what they return. */
export type ResourcesOf<H> = {
  readonly [K in keyof H]: H[K] extends (request: never) => Effect.Effect<unknown, unknown, infer R>
    ? R
    : H[K] extends (request: never) => Stream.Stream<unknown, unknown, infer R>
      ? R
      : never;
}[keyof H];

/** Limits the listener applies to every call of a bound service. */
export interface CallLimits {
  /** A call without a deadline gets this one; a longer one is cut to it. */
  readonly deadlineCapMs: number;
  /** When it aborts, server streams end cleanly (the server is shutting down). */
  readonly shutdown?: AbortSignal;
  /** Methods ("pkg.Service/Method") whose requests are logged, redacted (opt-in; default none). */
  readonly logBodies?: ReadonlySet<string>;
  /** The server's limit on unary calls at once, shared by its services (default: none). */
  readonly admission?: Admission;
}

/** What the unary adapter needs to know about one call, whichever path it came by. */
export interface UnaryCall {
  readonly record: CallRecord;
  readonly requestHeader: Headers;
  /** Headers to send back; created on first use. */
  readonly responseHeader: () => Headers;
  /** Aborts when the client goes away (and, on the Connect path, at the deadline). */
  readonly signal: AbortSignal | undefined;
  /** The deadline the client asked for, if any. */
  readonly timeoutMs: number | undefined;
}

/** Runs one unary method: resolves with the response, or rejects with the ConnectError to send. */
export type UnaryInvoker = ((request: unknown, call: UnaryCall) => Promise<unknown>) & {
  /**
   * The same call without a promise when the handler finishes synchronously: returns the response,
   * throws the ConnectError to send, or returns a Promise of the response when the handler is async.
   * Absent on invokers wrapped by tests (which then serve through the Promise form).
   */
  readonly direct?: (request: unknown, call: UnaryCall) => unknown;
};

/** A service with its handlers bound to the resources they need; what the server serves. */
export interface ServiceBinding {
  readonly service: MeridianService;
  /** Makes the Connect implementation under the listener's limits. */
  readonly toConnect: (limits: CallLimits) => ServiceImpl<MeridianService["desc"]>;
  /** The unary methods as invokers, by method local name, for paths that skip Connect's handler. */
  readonly toUnaryInvokers: (limits: CallLimits) => ReadonlyMap<string, UnaryInvoker>;
}

/**
 * Binds Effect handlers to the resources in the current context; the result
 * serves every call with the call's deadline, signal and request context.
 */
export function implement<M extends MeridianService, const H extends EffectHandlers<M, any>>(
  service: M,
  handlers: H,
): Effect.Effect<ServiceBinding, never, Exclude<ResourcesOf<H>, RequestContext>> {
  return Effect.map(Effect.context<Exclude<ResourcesOf<H>, RequestContext>>(), (context) => ({
    service,
    toConnect: (limits) => toServiceImpl(service, handlers as unknown as AnyHandlers, context as Context.Context<unknown>, limits),
    toUnaryInvokers: (limits) => {
      const invokers = new Map<string, UnaryInvoker>();
      for (const method of service.desc.methods) {
        const handler = (handlers as unknown as AnyHandlers)[method.localName];
        if (method.methodKind !== "unary" || handler === undefined) continue;
        invokers.set(method.localName, unaryInvoker(service, method, handler as UnaryHandler, context as Context.Context<unknown>, limits));
      }
      return invokers;
    },
  }));
}

type AnyHandlers = Record<string, (request: unknown) => Effect.Effect<unknown, unknown, unknown> | Stream.Stream<unknown, unknown, unknown>>;

function toServiceImpl(
  service: MeridianService,
  handlers: AnyHandlers,
  context: Context.Context<unknown>,
  limits: CallLimits,
): ServiceImpl<MeridianService["desc"]> {
  const impl: Record<string, unknown> = {};
  for (const method of service.desc.methods) {
    const handler = handlers[method.localName];
    if (handler === undefined) continue; // connect answers unimplemented
    impl[method.localName] =
      method.methodKind === "server_streaming"
        ? serverStreaming(service, method, handler as StreamHandler, context, limits)
        : unary(service, method, handler as UnaryHandler, context, limits);
  }
  return impl as ServiceImpl<MeridianService["desc"]>;
}

type UnaryHandler = (request: unknown) => Effect.Effect<unknown, unknown, unknown>;
type StreamHandler = (request: unknown) => Stream.Stream<unknown, unknown, unknown>;

function unary(
  service: MeridianService,
  method: DescMethod,
  handler: UnaryHandler,
  context: Context.Context<unknown>,
  limits: CallLimits,
) {
  const invoke = unaryInvoker(service, method, handler, context, limits);
  return (request: unknown, hctx: HandlerContext) =>
    invoke(request, {
      record: callRecordOf(hctx),
      requestHeader: hctx.requestHeader,
      responseHeader: () => hctx.responseHeader,
      signal: hctx.signal,
      timeoutMs: hctx.timeoutMs(),
    }) as Promise<MessageInitShape<typeof method.output>>;
}

function unaryInvoker(
  service: MeridianService,
  method: DescMethod,
  handler: UnaryHandler,
  context: Context.Context<unknown>,
  limits: CallLimits,
): UnaryInvoker {
  const fork = Effect.runForkWith(context as Context.Context<never>);
  const name = `${service.desc.typeName}/${method.name}`;
  const logBody = limits.logBodies?.has(name) === true;
  const failure = (call: UnaryCall, cause: Cause.Cause<unknown>, timedOut: boolean, timeoutMs: number): ConnectError => {
    const error = toWireError(
      timedOut && Cause.hasInterruptsOnly(cause) ? Cause.fail(new DeadlineExceeded({ timeoutMs: BigInt(timeoutMs) })) : cause,
      {
        domain: service.domain,
        method: name,
        correlationId: call.record.correlationId,
        abortReason: call.signal?.aborted ? call.signal.reason : undefined,
      },
    );
    call.record.code = error.code;
    return error;
  };
  const direct = (request: unknown, call: UnaryCall): unknown => {
    if (logBody) call.record.body = redactedJson(method.input, request as Message);
    const effect = handler(request);
    // A handler that answers with Effect.succeed or Effect.fail has its Exit already: there is
    // nothing to run (Effect's own runSyncExit takes the same shortcut), so no fiber, no context.
    if (Exit.isExit(effect)) {
      if (Exit.isSuccess(effect)) {
        call.record.code = "ok";
        return effect.value;
      }
      throw failure(call, effect.cause, false, 0);
    }
    const timeoutMs = call.timeoutMs === undefined ? limits.deadlineCapMs : Math.min(call.timeoutMs, limits.deadlineCapMs);
    const fiber = fork(
      Effect.provideService(effect as Effect.Effect<unknown, unknown, RequestContext>, RequestContext, requestInfo(call, name, timeoutMs)),
    );
    const done = fiber.pollUnsafe();
    if (done !== undefined) {
      if (Exit.isSuccess(done)) {
        call.record.code = "ok";
        return done.value;
      }
      throw failure(call, done.cause, false, timeoutMs);
    }
    // The deadline and the client's abort interrupt the fiber directly: cheaper than racing
    // a timeout effect on every call, and the handler's finalizers run either way. A handler
    // that completes synchronously needs neither.
    return new Promise((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        fiber.interruptUnsafe();
      }, timeoutMs);
      const signal = call.signal;
      const onAbort = () => fiber.interruptUnsafe();
      signal?.addEventListener("abort", onAbort);
      fiber.addObserver((exit) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (Exit.isSuccess(exit)) {
          call.record.code = "ok";
          resolve(exit.value);
        } else reject(failure(call, exit.cause, timedOut, timeoutMs));
      });
    });
  };
  const admission = limits.admission;
  const admitted =
    admission === undefined
      ? direct
      : (request: unknown, call: UnaryCall): unknown => {
          if (!admission.tryEnter()) {
            const atCapacity = new Unavailable({ reason: `server at capacity: ${admission.limit} calls in flight (MAX_CALLS_IN_FLIGHT)` });
            throw failure(call, Cause.fail(atCapacity), false, 0);
          }
          let answer: unknown;
          try {
            answer = direct(request, call);
          } catch (e) {
            admission.leave();
            throw e;
          }
          if (!(answer instanceof Promise)) {
            admission.leave();
            return answer;
          }
          return answer.finally(admission.leave);
        };
  const invoke = (request: unknown, call: UnaryCall): Promise<unknown> => {
    try {
      const answer = admitted(request, call);
      return answer instanceof Promise ? answer : Promise.resolve(answer);
    } catch (e) {
      return Promise.reject(e);
    }
  };
  return Object.assign(invoke, { direct: admitted });
}

function serverStreaming(
  service: MeridianService,
  method: DescMethod,
  handler: StreamHandler,
  context: Context.Context<unknown>,
  limits: CallLimits,
) {
  const name = `${service.desc.typeName}/${method.name}`;
  return async function* (request: unknown, hctx: HandlerContext) {
    const call = callRecordOf(hctx);
    const timeoutMs = deadlineOf(hctx, limits, Number.POSITIVE_INFINITY);
    const info = requestInfo(
      { record: call, requestHeader: hctx.requestHeader, responseHeader: () => hctx.responseHeader, signal: hctx.signal, timeoutMs: undefined },
      name,
      timeoutMs,
    );
    const signals = limits.shutdown === undefined ? [hctx.signal] : [hctx.signal, limits.shutdown];
    const aborted = Effect.callback<void>((resume) => {
      if (signals.some((s) => s.aborted)) return resume(Effect.void);
      const onAbort = () => resume(Effect.void);
      for (const s of signals) s.addEventListener("abort", onAbort, { once: true });
      return Effect.sync(() => {
        for (const s of signals) s.removeEventListener("abort", onAbort);
      });
    });
    const stream = handler(request).pipe(
      Stream.interruptWhen(aborted),
      Stream.provideService(RequestContext, info),
      Stream.catchCause((cause) =>
        Stream.fail(
          toWireError(cause, {
            domain: service.domain,
            method: name,
            correlationId: call.correlationId,
            abortReason: hctx.signal.aborted ? hctx.signal.reason : undefined,
          }),
        ),
      ),
    ) as Stream.Stream<unknown, ConnectError, never>;
    try {
      yield* Stream.toAsyncIterableWith(stream, context as Context.Context<never>);
      if (hctx.signal.aborted) throw ConnectError.from(hctx.signal.reason);
      call.code = "ok";
    } catch (e) {
      const error = ConnectError.from(e);
      call.code = error.code;
      throw error;
    }
  } as unknown as (request: unknown, hctx: HandlerContext) => AsyncIterable<MessageInitShape<typeof method.output>>;
}

/** The call's deadline in ms: the client's, capped; a stream without one runs until cancelled. */
function deadlineOf(hctx: HandlerContext, limits: CallLimits, whenUnset: number = limits.deadlineCapMs): number {
  const asked = hctx.timeoutMs();
  return asked === undefined ? whenUnset : Math.min(asked, limits.deadlineCapMs);
}

function requestInfo(call: UnaryCall, method: string, timeoutMs: number): RequestInfo {
  return new CallInfo(call, method, performance.now() + timeoutMs);
}

/** RequestInfo as a class: one allocation per call, methods on the prototype. */
class CallInfo implements RequestInfo {
  constructor(
    private readonly call: UnaryCall,
    readonly method: string,
    private readonly deadline: number,
  ) {}
  get correlationId() {
    return this.call.record.correlationId;
  }
  get protocol() {
    return this.call.record.protocol;
  }
  get requestHeader() {
    return this.call.requestHeader;
  }
  get responseHeader() {
    return this.call.responseHeader();
  }
  get signal() {
    return this.call.signal ?? neverAborted;
  }
  remainingMs() {
    return Math.max(0, this.deadline - performance.now());
  }
  traceHeaders() {
    return traceHeadersOf(this.call.record.span, this.call.requestHeader);
  }
  logFields() {
    return logFieldsOf(this.call.record, this.call.requestHeader.get("traceparent"));
  }
}

const neverAborted = new AbortController().signal;
