/**
 * Fault injection for resilience tests: wrap a service binding (faults on the
 * server, after the network) or a transport (faults on the client, before it)
 * with latency, error codes and drops. Deterministic: which call gets which
 * fault follows a repeating pattern over the calls' order, never chance.
 */
import { Code, ConnectError, type HandlerContext, type ServiceImpl, type Transport } from "@connectrpc/connect";
import type { ServiceBinding, UnaryInvoker } from "../server/implement.js";

/** What the faulty calls get. */
export interface FaultConfig {
  /** Added to every covered call before anything else, ms. */
  readonly latencyMs?: number;
  /**
   * Which calls fail or drop, repeating over the covered calls in order: `x`
   * fails with `code`, `d` drops (no answer until the caller gives up), `.`
   * goes through. "xx." fails 2 of every 3; "x" fails all; "" (default) none.
   */
  readonly pattern?: string;
  /** Code of the failing calls (default unavailable). */
  readonly code?: Code;
  readonly message?: string;
  /** Metadata of the failing calls' errors, e.g. `{ "retry-after": "1" }`. */
  readonly header?: Readonly<Record<string, string>>;
  /** Only these methods (local names, e.g. "getSecurity"); all when unset. */
  readonly methods?: ReadonlyArray<string>;
}

/** One covered call as the injector saw it. */
export interface FaultedCall {
  readonly method: string;
  /** What the pattern did to it. */
  readonly fault: "pass" | "fail" | "drop";
  /** The deadline the call arrived with (server side) or was sent with (client side), ms. */
  readonly timeoutMs: number | undefined;
  readonly header: Headers;
}

/** A set of faults to inject, changeable while a test runs; wraps bindings and transports. */
export class Faults {
  private config: FaultConfig;
  private count = 0;
  /** Every covered call, in order. */
  readonly calls: FaultedCall[] = [];

  constructor(config: FaultConfig = {}) {
    this.config = config;
  }

  /** Replaces the faults from the next call on, and restarts the pattern. */
  set(config: FaultConfig): void {
    this.config = config;
    this.count = 0;
  }

  /** The binding with the faults applied before each handler runs, on every path the server takes. */
  binding(binding: ServiceBinding): ServiceBinding {
    return {
      service: binding.service,
      toConnect: (limits) => {
        const impl = binding.toConnect(limits) as Record<string, (request: unknown, context: HandlerContext) => unknown>;
        const wrapped: Record<string, unknown> = {};
        for (const method of binding.service.desc.methods) {
          const handler = impl[method.localName];
          if (handler === undefined) continue;
          const before = (context: HandlerContext) =>
            this.apply(method.localName, context.signal, context.timeoutMs(), context.requestHeader);
          wrapped[method.localName] =
            method.methodKind === "unary"
              ? async (request: unknown, context: HandlerContext) => {
                  await before(context);
                  return handler(request, context);
                }
              : async function* (request: unknown, context: HandlerContext) {
                  await before(context);
                  yield* handler(request, context) as AsyncIterable<unknown>;
                };
        }
        return wrapped as ServiceImpl<typeof binding.service.desc>;
      },
      toUnaryInvokers: (limits) => {
        const wrapped = new Map<string, UnaryInvoker>();
        for (const [name, invoke] of binding.toUnaryInvokers(limits)) {
          wrapped.set(name, async (request, call) => {
            await this.apply(name, call.signal, call.timeoutMs, call.requestHeader);
            return invoke(request, call);
          });
        }
        return wrapped;
      },
    };
  }

  /** The transport with the faults applied before each call is sent. */
  transport(transport: Transport): Transport {
    return {
      unary: async (method, signal, timeoutMs, header, input, contextValues) => {
        await this.apply(method.localName, signal, timeoutMs, new Headers(header));
        return transport.unary(method, signal, timeoutMs, header, input, contextValues);
      },
      stream: async (method, signal, timeoutMs, header, input, contextValues) => {
        await this.apply(method.localName, signal, timeoutMs, new Headers(header));
        return transport.stream(method, signal, timeoutMs, header, input, contextValues);
      },
    };
  }

  private async apply(method: string, signal: AbortSignal | undefined, timeoutMs: number | undefined, header: Headers) {
    const config = this.config;
    if (config.methods !== undefined && !config.methods.includes(method)) return;
    const pattern = config.pattern ?? "";
    const slot = pattern === "" ? "." : pattern[this.count % pattern.length];
    this.count++;
    const fault = slot === "x" ? "fail" : slot === "d" ? "drop" : "pass";
    this.calls.push({ method, fault, timeoutMs, header });
    if (config.latencyMs !== undefined && config.latencyMs > 0) await sleep(config.latencyMs, signal, timeoutMs);
    if (fault === "fail") {
      throw new ConnectError(config.message ?? "injected fault", config.code ?? Code.Unavailable, config.header);
    }
    if (fault === "drop") await sleep(Number.POSITIVE_INFINITY, signal, timeoutMs);
  }
}

/**
 * Waits `ms` (forever if infinite); rejects as the signal's reason when it
 * aborts first, or with deadline_exceeded once the call's deadline passes (a
 * dropped call must not outlive its caller on a path with no abort signal).
 */
function sleep(ms: number, signal: AbortSignal | undefined, deadlineMs: number | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timers: Array<ReturnType<typeof setTimeout>> = [];
    const end = (settle: () => void) => {
      for (const timer of timers) clearTimeout(timer);
      signal?.removeEventListener("abort", abort);
      settle();
    };
    const abort = () => end(() => reject(ConnectError.from(signal?.reason ?? "aborted", Code.Canceled)));
    if (signal?.aborted) return abort();
    signal?.addEventListener("abort", abort, { once: true });
    if (Number.isFinite(ms)) timers.push(setTimeout(() => end(resolve), ms));
    if (deadlineMs !== undefined && deadlineMs < ms) {
      timers.push(
        setTimeout(() => end(() => reject(new ConnectError("the call's deadline passed", Code.DeadlineExceeded))), deadlineMs),
      );
    }
  });
}
