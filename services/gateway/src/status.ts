/**
 * GetSystemStatus: every service's readiness and version, and the gateway's
 * breaker towards each. A remote service (MERIDIAN_<SVC>_URL set) is asked for
 * its /readyz over HTTP at each URL, or at MERIDIAN_<SVC>_READYZ_URL; one
 * reached over gRPC (MERIDIAN_<SVC>_PROTOCOL=grpc: an HTTP/2 port, no /readyz)
 * without that variable is asked grpc.health.v1 Check (no version). A service
 * served in this process (local mode) is this process's readiness.
 */
import { Config, Context, Effect, Layer, Option } from "effect";
import { ConnectError, createClient, type Client } from "@connectrpc/connect";
import { GrpcHealthService, Health, readConfig, type ConfigInvalid, type HealthRegistry } from "@meridian/kit";
import { clientState, downstreamConfig, envPrefix, LocalServices, ServiceClient } from "@meridian/kit/client";
import type { EffectClient, MeridianService, ResilienceState } from "@meridian/sdk";
import { createNodeTransport } from "@meridian/sdk/node";
import { Market } from "@meridian/sdk/market";
import { Planning } from "@meridian/sdk/planning";
import { Portfolio } from "@meridian/sdk/portfolio";
import { Scoring } from "@meridian/sdk/scoring";
import { Trading } from "@meridian/sdk/trading";
import { Universe } from "@meridian/sdk/universe";
import { allServing, combineEndpoints, healthOf, healthOfGrpcStatus, type ReadinessProbe, type ServiceHealth } from "./domain/system-status.js";

/** The services of the platform the gateway reports on, in the order shown. */
export const platformServices: ReadonlyArray<readonly [string, MeridianService]> = [
  ["universe", Universe],
  ["market", Market],
  ["scoring", Scoring],
  ["portfolio", Portfolio],
  ["trading", Trading],
  ["planning", Planning],
];

/** One service in the report, with the gateway's breaker towards it ("" when the gateway does not call it). */
export interface ServiceReport extends ServiceHealth {
  readonly breaker: "closed" | "open" | "half_open" | "";
}

/** The whole platform's status. */
export interface SystemReport {
  readonly services: ReadonlyArray<ServiceReport>;
  readonly healthy: boolean;
}

/** Reads the platform's status. */
export interface SystemStatusShape {
  readonly check: () => Effect.Effect<SystemReport>;
}

/** The platform's status, as the gateway sees it. */
export class SystemStatus extends Context.Service<SystemStatus, SystemStatusShape>()("@meridian/gateway/SystemStatus") {}

/** How one remote endpoint's readiness is read: its /readyz over HTTP, or gRPC health where only gRPC is served. */
type Probe = { readonly url: string; readonly run: (signal: AbortSignal) => Promise<ServiceHealth> };

type Target =
  | { readonly name: string; readonly kind: "remote"; readonly probes: ReadonlyArray<Probe> }
  | { readonly name: string; readonly kind: "local" }
  | { readonly name: string; readonly kind: "unconfigured" };

/** The status reader; where each service is comes from MERIDIAN_<SVC>_URL (and _READYZ_URL), read once here. */
export function layerSystemStatus(options: {
  readonly name: string;
  readonly version: string;
  readonly timeoutMs: number;
  /** Variables to read instead of the process's (tests). */
  readonly env?: Record<string, string | undefined>;
}): Layer.Layer<SystemStatus, ConfigInvalid, Health | EffectClients> {
  return Layer.effect(
    SystemStatus,
    Effect.gen(function* () {
      const health = yield* Effect.service(Health);
      const local = Option.getOrUndefined(yield* Effect.serviceOption(LocalServices));
      const targets: Target[] = [];
      for (const [name, service] of platformServices) {
        const config = yield* readConfig(downstreamConfig(name), options.env);
        const readyz = yield* readConfig(Config.String(`${envPrefix(name)}READYZ_URL`).pipe(Config.withDefault("")), options.env);
        const overridden = readyz.split(",").map((u) => u.trim().replace(/\/+$/, "")).filter((u) => u !== "");
        if (overridden.length > 0 || (config.endpoints.length > 0 && config.protocol !== "grpc")) {
          // Connect and gRPC-Web endpoints are HTTP/1.1 ports, which serve /readyz.
          const urls = (overridden.length > 0 ? overridden : config.endpoints).map((base) => `${base}/readyz`);
          targets.push({ name, kind: "remote", probes: urls.map((url) => ({ url, run: (signal) => probeReadyz(name, url, options.timeoutMs, signal) })) });
        } else if (config.endpoints.length > 0) {
          // A gRPC port (HTTP/2) has no /readyz: ask grpc.health.v1 (no version; MERIDIAN_<SVC>_READYZ_URL gives it).
          const probes = config.endpoints.map((url): Probe => {
            const health = createClient(GrpcHealthService.desc, createNodeTransport({ baseUrl: url, protocol: "grpc" }));
            return { url, run: (signal) => probeGrpcHealth(name, url, health, options.timeoutMs, signal) };
          });
          targets.push({ name, kind: "remote", probes });
        } else if (local?.transportOf(service.desc.typeName) !== undefined) {
          targets.push({ name, kind: "local" });
        } else {
          targets.push({ name, kind: "unconfigured" });
        }
      }
      const clients: Record<string, object> = {
        market: yield* Effect.service(ServiceClient(Market)),
        portfolio: yield* Effect.service(ServiceClient(Portfolio)),
        planning: yield* Effect.service(ServiceClient(Planning)),
        trading: yield* Effect.service(ServiceClient(Trading)),
      };
      const breakerOf = (name: string): ServiceReport["breaker"] => {
        const client = clients[name];
        return client === undefined ? "" : worstBreaker(clientState(client));
      };
      return {
        check: () =>
          Effect.promise(async (signal) => {
            // One readiness report of this process serves the gateway and every local service.
            let own: Promise<ReadinessProbe> | undefined;
            const ownProbe = () => (own ??= probeLocal(health, options.name, options.version, options.timeoutMs));
            const [gateway, ...services] = await Promise.all([
              ownProbe().then((probe) => ({ ...healthOf("gateway", probe), breaker: "" as const })),
              ...targets.map(async (target): Promise<ServiceReport> => {
                const breaker = breakerOf(target.name);
                if (target.kind === "unconfigured") {
                  const detail = `${envPrefix(target.name)}URL is not set and it is not served in this process`;
                  return { name: target.name, state: "unreachable", version: "", latencyMs: 0, detail, breaker };
                }
                if (target.kind === "local") return { ...healthOf(target.name, await ownProbe()), breaker };
                const endpoints = await Promise.all(target.probes.map(async (probe) => ({ url: probe.url, health: await probe.run(signal) })));
                return { ...combineEndpoints(target.name, endpoints), breaker };
              }),
            ]);
            const all = [gateway!, ...services];
            return { services: all, healthy: allServing(all) };
          }),
      };
    }),
  );
}

/** The clients whose breakers the report shows. */
type EffectClients = EffectClient<typeof Market> | EffectClient<typeof Portfolio> | EffectClient<typeof Planning> | EffectClient<typeof Trading>;

/** "open" if any endpoint's breaker is open, else "half_open" if any probes, else "closed". */
function worstBreaker(state: ResilienceState | undefined): ServiceReport["breaker"] {
  if (state === undefined) return "";
  const breakers = state.endpoints.map((e) => e.breaker);
  if (breakers.includes("open")) return "open";
  if (breakers.includes("half_open")) return "half_open";
  return "closed";
}

async function probeLocal(health: HealthRegistry, name: string, version: string, timeoutMs: number): Promise<ReadinessProbe> {
  const started = performance.now();
  const report = await health.readiness(name, version, timeoutMs);
  return { kind: "answered", httpStatus: report.status === "unhealthy" ? 503 : 200, body: report, latencyMs: performance.now() - started };
}

async function probeReadyz(name: string, url: string, timeoutMs: number, cancelled: AbortSignal): Promise<ServiceHealth> {
  return healthOf(name, await fetchReadyz(url, timeoutMs, cancelled));
}

async function probeGrpcHealth(
  name: string,
  url: string,
  health: Client<typeof GrpcHealthService.desc>,
  timeoutMs: number,
  cancelled: AbortSignal,
): Promise<ServiceHealth> {
  const started = performance.now();
  try {
    const { status } = await health.check({ service: "" }, { timeoutMs, signal: cancelled });
    return healthOfGrpcStatus(name, status, performance.now() - started);
  } catch (e) {
    return healthOf(name, { kind: "unreachable", error: `${url}: ${ConnectError.from(e).message}`, latencyMs: performance.now() - started });
  }
}

async function fetchReadyz(url: string, timeoutMs: number, cancelled: AbortSignal): Promise<ReadinessProbe> {
  const started = performance.now();
  try {
    const response = await fetch(url, { signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), cancelled]) });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: reported as "not a readiness report"
    }
    return { kind: "answered", httpStatus: response.status, body, latencyMs: performance.now() - started };
  } catch (e) {
    const error = e instanceof Error && e.name === "TimeoutError" ? `no answer in ${timeoutMs} ms` : e instanceof Error ? e.message : String(e);
    return { kind: "unreachable", error: `${url}: ${error}`, latencyMs: performance.now() - started };
  }
}
