/**
 * Distributed mode on one machine: every service its own process, against a real PostgreSQL
 * and Redis, with the environment compose gives its containers (gRPC between services). Shared
 * by `bun run start:distributed` and the end-to-end tests.
 */
import { allocatorEnvironment } from "@meridian/kit/allocator";
import { serviceEnvironment, topology, type ServiceNode } from "./topology.js";

/** What every service process shares. */
export interface SharedEnvironment {
  readonly DATABASE_URL: string;
  readonly REDIS_URL: string;
  /** Before every Redis key: separates deployments (or test runs) sharing one Redis. */
  readonly REDIS_KEY_PREFIX: string;
  readonly [name: string]: string | undefined;
}

/** Where a service listens when services are `portOffset` ports apart from the default ones. */
export function portsOf(node: ServiceNode, portOffset = 0): { http: number; grpc: number } {
  return { http: node.httpPort + portOffset, grpc: node.grpcPort + portOffset };
}

/**
 * The full environment of one service's process in distributed mode on this machine: the kit's
 * allocator settings (which `shared` may override), `shared`, and the service's own.
 */
export function processEnvironment(node: ServiceNode, shared: SharedEnvironment, portOffset = 0): Record<string, string | undefined> {
  return {
    ...allocatorEnvironment,
    ...shared,
    HOST: "127.0.0.1",
    ...serviceEnvironment(node, { hostOf: () => "127.0.0.1", portsOf: (n) => portsOf(n, portOffset) }),
  };
}

/** Resolves once `GET <httpUrl>/readyz` answers 200; rejects after `timeoutMs` with the last answer. */
export async function waitUntilReady(httpUrl: string, timeoutMs: number, isAlive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error(`${httpUrl} exited before it was ready (last readiness: ${last})`);
    try {
      const response = await fetch(`${httpUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
      last = `${response.status} ${await response.text()}`;
      if (response.ok) return;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await Bun.sleep(200);
  }
  throw new Error(`${httpUrl} not ready after ${timeoutMs} ms (last readiness: ${last})`);
}

export { topology, type ServiceNode };
