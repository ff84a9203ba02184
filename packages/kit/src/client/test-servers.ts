/**
 * Real kit servers on loopback for the client's integration tests: the
 * universe service with test handlers (behind a Faults injector), started and
 * stopped at will, on port 0 or a given port (to bring a "dead" one back).
 */
import { Effect, Layer, ManagedRuntime } from "effect";
import { Sector, Universe, UnknownSymbol } from "@meridian/sdk/universe";
import { InvalidArgument } from "../errors.js";
import { layerHealth } from "../health.js";
import { layerLifecycle } from "../lifecycle.js";
import { RequestContext } from "../server/call.js";
import { implement, type ServiceBinding } from "../server/implement.js";
import { serve, Server } from "../server/serve.js";
import { Faults } from "../testing/faults.js";

/** What a test universe saw: one entry per handled getSecurity. */
export interface Seen {
  readonly remainingMs: number;
  readonly correlationId: string;
  readonly traceparent: string | null;
}

/**
 * The universe's handlers for tests: getSecurity knows AAPL, rejects "" as
 * InvalidArgument and anything else as UnknownSymbol; listSecurities answers
 * with one security named after the server (to tell endpoints apart).
 */
export function testUniverse(name: string, seen: Seen[] = []): Effect.Effect<ServiceBinding> {
  return implement(Universe, {
    getSecurity: ({ symbol }) =>
      Effect.gen(function* () {
        const request = yield* Effect.service(RequestContext);
        seen.push({
          remainingMs: request.remainingMs(),
          correlationId: request.correlationId,
          traceparent: request.requestHeader.get("traceparent"),
        });
        if (symbol === "") {
          return yield* new InvalidArgument({ fieldViolations: [{ field: "symbol", description: "is required" }] });
        }
        if (symbol !== "AAPL") return yield* new UnknownSymbol({ symbol });
        return { security: { symbol, name: "Apple Inc.", sector: Sector.TECHNOLOGY, currency: "USD", active: true } };
      }),
    listSecurities: () => Effect.succeed({ securities: [{ symbol: name.toUpperCase(), name }] }),
    upsertSecurity: ({ security }) => Effect.succeed({ security, created: true }),
  });
}

/** A running kit server. */
export interface TestServer {
  readonly httpUrl: string;
  readonly grpcUrl: string;
  readonly httpPort: number;
  readonly stop: () => Promise<void>;
}

/** Serves the bindings with the kit's `serve` on 127.0.0.1 (HTTP port 0 unless given), each behind `faults` if given. */
export async function startServer(
  bindings: ReadonlyArray<Effect.Effect<ServiceBinding>>,
  options: { readonly httpPort?: number; readonly faults?: Faults; readonly cors?: ReadonlyArray<string> } = {},
): Promise<TestServer> {
  const faults = options.faults;
  const services = faults === undefined ? bindings : bindings.map((b) => Effect.map(b, (binding) => faults.binding(binding)));
  const runtime = ManagedRuntime.make(
    serve({
      name: "client-test",
      services,
      config: { host: "127.0.0.1", httpPort: options.httpPort ?? 0, grpcPort: 0, shutdownGraceMs: 200, logLevel: "warn" },
      ...(options.cors === undefined ? {} : { cors: { allowedOrigins: options.cors } }),
    }).pipe(Layer.provideMerge(layerHealth), Layer.provideMerge(layerLifecycle)),
  );
  const { http, grpc } = await runtime.runPromise(Effect.service(Server));
  return { httpUrl: http.url, grpcUrl: grpc.url, httpPort: http.port, stop: () => runtime.dispose() };
}

export { Faults };
