/**
 * The platform's services as separate processes: each one's entry, ports and
 * downstreams. One source for `bun run start:distributed` and compose.yaml, so
 * the two run the same configuration.
 */

/** One service as a process of its own. */
export interface ServiceNode {
  readonly name: string;
  /** Entry point, relative to the repository root. */
  readonly entry: string;
  /** Ports in distributed mode on one machine (compose gives each container 8080/8081). */
  readonly httpPort: number;
  readonly grpcPort: number;
  /** The services it calls. They start first: a service starts once its downstreams are ready. */
  readonly downstreams: ReadonlyArray<string>;
}

const node = (name: string, index: number, downstreams: ReadonlyArray<string>): ServiceNode => ({
  name,
  entry: `services/${name}/src/main.ts`,
  httpPort: 7100 + index * 2,
  grpcPort: 7101 + index * 2,
  downstreams,
});

/** Every service, in start order. */
export const topology: ReadonlyArray<ServiceNode> = [
  node("universe", 0, []),
  node("market", 1, ["universe"]),
  node("scoring", 2, ["universe", "market"]),
  node("portfolio", 3, ["market"]),
  node("trading", 4, ["universe", "market", "portfolio"]),
  node("planning", 5, ["universe", "market", "scoring", "portfolio", "trading"]),
  node("gateway", 6, ["universe", "market", "scoring", "portfolio", "trading", "planning"]),
];

/** Services talk gRPC (HTTP/2) to each other in distributed mode. */
export const interServiceProtocol = "grpc";

/**
 * The environment of one service process: its ports, and for each downstream its URL and
 * protocol (`hostOf` maps a service to where it is reachable: 127.0.0.1 locally, its
 * container name in compose).
 */
export function serviceEnvironment(
  service: ServiceNode,
  options: { readonly hostOf: (name: string) => string; readonly portsOf: (node: ServiceNode) => { http: number; grpc: number } },
): Record<string, string> {
  const env: Record<string, string> = {
    HTTP_PORT: String(options.portsOf(service).http),
    GRPC_PORT: String(options.portsOf(service).grpc),
  };
  for (const name of service.downstreams) {
    const downstream = topology.find((n) => n.name === name)!;
    const prefix = `MERIDIAN_${name.toUpperCase()}_`;
    env[`${prefix}URL`] = `http://${options.hostOf(name)}:${options.portsOf(downstream).grpc}`;
    env[`${prefix}PROTOCOL`] = interServiceProtocol;
    // Readiness (and version) is read over HTTP, for the gateway's status report.
    env[`${prefix}READYZ_URL`] = `http://${options.hostOf(name)}:${options.portsOf(downstream).http}`;
  }
  return env;
}
