/**
 * What the gateway says about a service from its readiness answer (the body
 * of its /readyz, or the same report read in-process). Pure functions.
 */

/** One service as GetSystemStatus reports it (the fields of ServiceStatus). */
export interface ServiceHealth {
  readonly name: string;
  /** "serving", "not_serving" or "unreachable". */
  readonly state: "serving" | "not_serving" | "unreachable";
  readonly version: string;
  readonly latencyMs: number;
  readonly detail: string;
}

/** What one readiness check got: an answer (any HTTP status) or nothing. */
export type ReadinessProbe =
  | { readonly kind: "answered"; readonly httpStatus: number; readonly body: unknown; readonly latencyMs: number }
  | { readonly kind: "unreachable"; readonly error: string; readonly latencyMs: number };

interface ReportShape {
  readonly status?: unknown;
  readonly version?: unknown;
  readonly lifecycle?: unknown;
  readonly dependencies?: unknown;
}

/**
 * A service's health from its readiness probe: "healthy" and "degraded" serve (degraded names the
 * dependencies that are down), "unhealthy" or a body that is not a report does not, and no answer is unreachable.
 */
export function healthOf(name: string, probe: ReadinessProbe): ServiceHealth {
  const latencyMs = Math.round(probe.latencyMs);
  if (probe.kind === "unreachable") return { name, state: "unreachable", version: "", latencyMs, detail: probe.error };
  const report = (typeof probe.body === "object" && probe.body !== null ? probe.body : {}) as ReportShape;
  const version = typeof report.version === "string" ? report.version : "";
  if (report.status === "healthy") return { name, state: "serving", version, latencyMs, detail: "" };
  if (report.status === "degraded") return { name, state: "serving", version, latencyMs, detail: `degraded: ${downList(report)}` };
  if (report.status === "unhealthy") {
    const why = report.lifecycle !== undefined && report.lifecycle !== "running" ? `lifecycle ${String(report.lifecycle)}` : downList(report);
    return { name, state: "not_serving", version, latencyMs, detail: why };
  }
  return { name, state: "not_serving", version, latencyMs, detail: `not a readiness report (HTTP ${probe.httpStatus})` };
}

/** A service's health from a `grpc.health.v1.Health/Check` status (1 SERVING, 2 NOT_SERVING; the protocol carries no version). */
export function healthOfGrpcStatus(name: string, status: number, latencyMs: number): ServiceHealth {
  const rounded = Math.round(latencyMs);
  if (status === 1) return { name, state: "serving", version: "", latencyMs: rounded, detail: "" };
  const why = status === 2 ? "NOT_SERVING" : status === 3 ? "SERVICE_UNKNOWN" : "UNKNOWN";
  return { name, state: "not_serving", version: "", latencyMs: rounded, detail: `grpc.health.v1: ${why}` };
}

/** Several endpoints of one service: serving if any serves; otherwise the first one's state, every endpoint's detail kept. */
export function combineEndpoints(name: string, endpoints: ReadonlyArray<{ readonly url: string; readonly health: ServiceHealth }>): ServiceHealth {
  if (endpoints.length === 0) return { name, state: "unreachable", version: "", latencyMs: 0, detail: "no endpoint configured" };
  if (endpoints.length === 1) return endpoints[0]!.health;
  const serving = endpoints.filter((e) => e.health.state === "serving");
  const chosen = (serving[0] ?? endpoints[0])!.health;
  const others = endpoints.filter((e) => e.health.state !== "serving").map((e) => `${e.url}: ${e.health.state} ${e.health.detail}`.trim());
  const detail = [chosen.detail, ...(serving.length > 0 ? others : others.slice(1))].filter((d) => d !== "").join("; ");
  return { ...chosen, detail: serving.length > 0 && others.length > 0 ? `${serving.length}/${endpoints.length} endpoints serving; ${detail}` : detail };
}

/** The platform is healthy when every service serves. */
export function allServing(services: ReadonlyArray<ServiceHealth>): boolean {
  return services.length > 0 && services.every((s) => s.state === "serving");
}

function downList(report: ReportShape): string {
  const dependencies = (typeof report.dependencies === "object" && report.dependencies !== null ? report.dependencies : {}) as Record<
    string,
    { status?: unknown; error?: unknown }
  >;
  const down = Object.entries(dependencies)
    .filter(([, d]) => d?.status === "down")
    .map(([dependency, d]) => (typeof d.error === "string" ? `${dependency} down (${d.error})` : `${dependency} down`));
  return down.length > 0 ? down.join(", ") : "not ready";
}
