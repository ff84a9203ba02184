/**
 * Client telemetry in the kit's one registry and one logger: per call a
 * debug line and RED metrics by downstream and method; retries by code;
 * breaker state, bulkhead load and the retry budget read at scrape time.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import type { BreakerState, ClientHooks, ResilientTransport } from "@meridian/sdk";
import { isLogged, writeLogLine } from "../log.js";
import { metrics } from "../telemetry/metrics.js";

const calls = metrics.counter("rpc_client_requests_total", "Calls made to other services, by downstream, method and code.", [
  "downstream",
  "method",
  "code",
]);
const durations = metrics.histogram("rpc_client_duration_seconds", "Time of a call, retries and queueing included.", [
  "downstream",
  "method",
]);
const retries = metrics.counter("rpc_client_retries_total", "Retries sent, by downstream, method and the code retried.", [
  "downstream",
  "method",
  "code",
]);
const breakerStates = metrics.gauge(
  "rpc_client_breaker_state",
  "Circuit breaker of each endpoint: 0 closed, 1 half-open, 2 open.",
  ["downstream", "endpoint"],
);
const bulkheadActive = metrics.gauge("rpc_client_bulkhead_active", "Calls in flight under the bulkhead.", ["downstream"]);
const bulkheadQueued = metrics.gauge("rpc_client_bulkhead_queued", "Calls waiting in the bulkhead's queue.", ["downstream"]);
const retryBudgetTokens = metrics.gauge(
  "rpc_client_retry_budget_tokens",
  "Retries a downstream's budget allows now: each call earns a share of a token, each retry spends one.",
  ["downstream"],
);
const retriesRefused = metrics.counter(
  "rpc_client_retries_refused_total",
  "Retries the retry budget refused (the call failed instead of being sent again), by downstream.",
  ["downstream"],
);

const breakerValue: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

/** The hooks that count, time and log every call of a client of `downstream` (mode: "remote" or "local"). */
export function telemetryHooks(downstream: string, mode: "remote" | "local"): ClientHooks {
  const seriesOf = boundSeries(downstream);
  return {
    onCallEnded: ({ method, error, durationMs, attempts, endpoint, requestHeader }) => {
      const series = seriesOf(method);
      const code = error === undefined ? "ok" : codeToString(error.code);
      series.calls(code).inc();
      series.duration.observe(durationMs / 1000);
      if (!isLogged("debug")) return;
      writeLogLine("debug", "rpc client", {
        correlation_id: new Headers(requestHeader).get("x-request-id") ?? undefined,
        downstream,
        mode,
        method: series.name,
        endpoint,
        code,
        attempts,
        duration_ms: Math.round(durationMs * 1000) / 1000,
        ...(error === undefined ? {} : { error: error.rawMessage }),
      });
    },
    onRetry: ({ method, attempt, delayMs, error }) => {
      const name = seriesOf(method).name;
      retries.inc({ downstream, method: name, code: codeToString(error.code) });
      if (isLogged("debug")) {
        writeLogLine("debug", "rpc client retry", {
          downstream,
          method: name,
          attempt,
          delay_ms: Math.round(delayMs),
          code: codeToString(error.code),
        });
      }
    },
    onBreakerTransition: ({ endpoint, from, to }) => {
      writeLogLine(to === "open" ? "warn" : "info", "circuit breaker", { downstream, endpoint, from, to });
    },
  };
}

interface MethodSeries {
  /** "meridian.universe.v1.UniverseService/GetSecurity", as the server's metrics name it. */
  readonly name: string;
  readonly calls: (code: string) => { inc(): void };
  readonly duration: { observe(seconds: number): void };
}

/** Each method's series, bound once: a call then costs two adds, not label lookups. */
function boundSeries(downstream: string): (method: DescMethod) => MethodSeries {
  const byMethod = new WeakMap<DescMethod, MethodSeries>();
  return (method) => {
    let series = byMethod.get(method);
    if (series === undefined) {
      const name = `${method.parent.typeName}/${method.name}`;
      const byCode = new Map<string, { inc(): void }>();
      series = {
        name,
        calls: (code) => {
          let bound = byCode.get(code);
          if (bound === undefined) {
            bound = calls.bind({ downstream, method: name, code });
            byCode.set(code, bound);
          }
          return bound;
        },
        duration: durations.bind({ downstream, method: name }),
      };
      byMethod.set(method, series);
    }
    return series;
  };
}

/** Publishes the transport's breaker, bulkhead and retry budget state, read at each scrape; the result stops it. */
export function publishState(transport: ResilientTransport): () => void {
  const stops = [
    breakerStates.collect(() => {
      const { downstream, endpoints } = transport.state();
      return endpoints.map((e) => ({ labels: { downstream, endpoint: e.url }, value: breakerValue[e.breaker] }));
    }),
    bulkheadActive.collect(() => {
      const { downstream, bulkhead } = transport.state();
      return bulkhead === undefined ? [] : [{ labels: { downstream }, value: bulkhead.active }];
    }),
    bulkheadQueued.collect(() => {
      const { downstream, bulkhead } = transport.state();
      return bulkhead === undefined ? [] : [{ labels: { downstream }, value: bulkhead.queued }];
    }),
    retryBudgetTokens.collect(() => {
      const { downstream, retryBudget } = transport.state();
      return [{ labels: { downstream }, value: retryBudget }];
    }),
    retriesRefused.collect(() => {
      const { downstream, retriesRefused } = transport.state();
      return [{ labels: { downstream }, value: retriesRefused }];
    }),
  ];
  return () => stops.forEach((stop) => stop());
}
