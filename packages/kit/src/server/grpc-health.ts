/**
 * `grpc.health.v1.Health` over the process's lifecycle and readiness, so
 * gRPC-native probes (Kubernetes `grpc:` probes, grpc-health-probe, Envoy,
 * grpc-js clients) see the same truth as /readyz: SERVING only while the
 * lifecycle is `running` and no required dependency is down; NOT_SERVING from
 * the moment shutdown begins. Every served service answers under its
 * fully-qualified name, and "" is the whole server.
 */
import { Effect, Stream } from "effect";
import { NotFound, ResourceExhausted } from "@meridian/sdk/kit-errors";
// The SDK exports no path for the vendored gRPC protos yet; see the report of issue 5.
import { Health as HealthService } from "../../../../sdk/src/gen/grpc/health/v1/health_meridian.js";
import { HealthCheckResponse_ServingStatus as ServingStatus } from "../../../../sdk/src/gen/grpc/health/v1/health_pb.js";
import { Health, type HealthReport } from "../health.js";
import { Lifecycle } from "../lifecycle.js";
import { implement, type CallLimits, type ServiceBinding } from "./implement.js";

export { HealthService as GrpcHealthService };

/** What the health service reports on. */
export interface GrpcHealthOptions {
  /** The process's name and version, as in /readyz. */
  readonly service: string;
  readonly version: string;
  /** Fully-qualified names of every service the server serves. */
  readonly services: ReadonlyArray<string>;
  /** How often Watch re-reads readiness (default 1000 ms). */
  readonly watchIntervalMs?: number;
}

// Upstream's limit for List: more than this fails with RESOURCE_EXHAUSTED.
const listLimit = 100;
const defaultWatchIntervalMs = 1000;

/**
 * Binds `grpc.health.v1.Health`: Check and List answer at once; Watch sends the
 * current status, then each change, and ends (after a last NOT_SERVING) when
 * shutdown begins or the client goes away.
 */
export function grpcHealth(options: GrpcHealthOptions): Effect.Effect<ServiceBinding, never, Lifecycle | Health> {
  return Effect.gen(function* () {
    const lifecycle = yield* Effect.service(Lifecycle);
    const health = yield* Effect.service(Health);
    const known = new Set(["", ...options.services]);
    const intervalMs = options.watchIntervalMs ?? defaultWatchIntervalMs;
    // Many watchers and probes share one run of the dependency checks.
    const readiness = sharedFor(Math.min(intervalMs, 1000) / 2, () => health.readiness(options.service, options.version));
    const current = Effect.promise(async () => {
      if (lifecycle.status() !== "running") return ServingStatus.NOT_SERVING;
      return servingStatusOf(await readiness());
    });
    const shutdownBegun = Effect.callback<void>((resume) => {
      if (lifecycle.shutdown.aborted) return resume(Effect.void);
      const onAbort = () => resume(Effect.void);
      lifecycle.shutdown.addEventListener("abort", onAbort, { once: true });
      return Effect.sync(() => lifecycle.shutdown.removeEventListener("abort", onAbort));
    });

    const binding = yield* implement(HealthService, {
      check: ({ service }) =>
        known.has(service)
          ? Effect.map(current, (status) => ({ status }))
          : Effect.fail(new NotFound({ resource: "service", name: service })),
      list: () =>
        known.size > listLimit
          ? Effect.fail(new ResourceExhausted({ reason: `more than ${listLimit} services` }))
          : Effect.map(current, (status) => ({
              statuses: Object.fromEntries([...known].map((name) => [name, { status }])),
            })),
      watch: ({ service }) => {
        const statuses = known.has(service)
          ? Stream.tick(`${intervalMs} millis`).pipe(
              Stream.mapEffect(() => current),
              Stream.interruptWhen(shutdownBegun),
              Stream.concat(Stream.succeed(ServingStatus.NOT_SERVING)),
            )
          : // Upstream: an unknown service is SERVICE_UNKNOWN and the call stays open.
            Stream.succeed(ServingStatus.SERVICE_UNKNOWN).pipe(Stream.concat(Stream.never), Stream.interruptWhen(shutdownBegun));
        return statuses.pipe(
          Stream.changes,
          Stream.map((status) => ({ status })),
        );
      },
    });
    // Watch ends itself at shutdown, after telling the client NOT_SERVING; the listener's
    // shutdown signal would cut it before that last word. Probes are answered even when the
    // server is at its limit of calls in flight: a busy server is not an unhealthy one.
    return {
      ...binding,
      toConnect: (limits) => binding.toConnect({ deadlineCapMs: limits.deadlineCapMs }),
      toUnaryInvokers: (limits) => binding.toUnaryInvokers(withoutAdmission(limits)),
    };
  });
}

function withoutAdmission({ admission: _, ...limits }: CallLimits): CallLimits {
  return limits;
}

function servingStatusOf(report: HealthReport): ServingStatus {
  return report.status === "unhealthy" ? ServingStatus.NOT_SERVING : ServingStatus.SERVING;
}

/** Calls `run` at most once per `ms`: callers within that window share the same answer. */
function sharedFor<A>(ms: number, run: () => Promise<A>): () => Promise<A> {
  let latest: { readonly at: number; readonly answer: Promise<A> } | undefined;
  return () => {
    const now = performance.now();
    if (latest === undefined || now - latest.at >= ms) latest = { at: now, answer: run() };
    return latest.answer;
  };
}
