/**
 * Health: liveness and readiness, as JSON. Resources register a check for
 * the dependency they own (postgres, redis, a downstream); readiness runs them
 * all, each under a time limit, and is false whenever the process is not `running`.
 */
import { Context, Effect, Layer, type Scope } from "effect";
import { Lifecycle, type LifecycleState, type Status } from "./lifecycle.js";

/** One dependency's check: resolves when it is usable, rejects with why not. */
export interface DependencyCheck {
  readonly name: string;
  /** A required dependency that is down makes the service unready; an optional one makes it degraded. */
  readonly required: boolean;
  readonly check: () => Promise<void>;
}

/** A dependency's state in a readiness report. */
export interface DependencyState {
  readonly status: "up" | "down";
  readonly required: boolean;
  readonly latency_ms: number;
  readonly error?: string;
}

/** The body of /healthz and /readyz. */
export interface HealthReport {
  readonly status: "healthy" | "degraded" | "unhealthy";
  readonly service: string;
  readonly version: string;
  readonly lifecycle: Status;
  readonly uptime_s: number;
  readonly dependencies: Record<string, DependencyState>;
}

/** The registry of dependency checks of this process. */
export interface HealthRegistry {
  /** Adds a check; the returned function removes it. */
  readonly register: (check: DependencyCheck) => () => void;
  /** Liveness: the process is up and not failed. */
  readonly liveness: (service: string, version: string) => HealthReport;
  /** Readiness: runs every check (each at most `timeoutMs`) and says whether to send traffic here. */
  readonly readiness: (service: string, version: string, timeoutMs?: number) => Promise<HealthReport>;
}

/** The health registry of the current process. */
export class Health extends Context.Service<Health, HealthRegistry>()("@meridian/kit/Health") {}

/** Makes a registry over the given lifecycle. */
export function makeHealth(lifecycle: LifecycleState): HealthRegistry {
  const checks = new Set<DependencyCheck>();
  const base = (service: string, version: string) => ({
    service,
    version,
    lifecycle: lifecycle.status(),
    uptime_s: Math.round((Date.now() - lifecycle.startedAt) / 1000),
  });
  return {
    register: (check) => {
      checks.add(check);
      return () => checks.delete(check);
    },
    liveness: (service, version) => {
      const report = base(service, version);
      return { ...report, status: report.lifecycle === "error" ? "unhealthy" : "healthy", dependencies: {} };
    },
    readiness: async (service, version, timeoutMs = 1000) => {
      const entries = await Promise.all([...checks].map(async (c) => [c.name, await probe(c, timeoutMs)] as const));
      const dependencies = Object.fromEntries(entries);
      const report = base(service, version);
      const requiredDown = entries.some(([, s]) => s.required && s.status === "down");
      const optionalDown = entries.some(([, s]) => !s.required && s.status === "down");
      const status =
        report.lifecycle !== "running" || requiredDown ? "unhealthy" : optionalDown ? "degraded" : "healthy";
      return { ...report, status, dependencies };
    },
  };
}

/** Provides the health registry, over the process's lifecycle. */
export const layerHealth: Layer.Layer<Health, never, Lifecycle> = Layer.effect(
  Health,
  Effect.map(Effect.service(Lifecycle), makeHealth),
);

/** Registers a dependency check for as long as the surrounding scope lives. */
export function registerDependency(check: DependencyCheck): Effect.Effect<void, never, Health | Scope.Scope> {
  return Effect.flatMap(Effect.service(Health), (health) =>
    Effect.acquireRelease(
      Effect.sync(() => health.register(check)),
      (unregister) => Effect.sync(unregister),
    ),
  ).pipe(Effect.asVoid);
}

async function probe(check: DependencyCheck, timeoutMs: number): Promise<DependencyState> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      check.check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { status: "up", required: check.required, latency_ms: elapsed(started) };
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    return { status: "down", required: check.required, latency_ms: elapsed(started), error };
  } finally {
    clearTimeout(timer);
  }
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}
