/**
 * MAX_CALLS_IN_FLIGHT over real sockets: past the limit a unary call is answered at once with
 * `unavailable`, on every path (Connect's fast path and gRPC's); places free up as calls end,
 * however they end; health probes are answered whatever the load.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { Deferred, Effect, Layer, ManagedRuntime } from "effect";
import { createMeridianClient } from "@meridian/sdk";
import { createNodeTransport } from "@meridian/sdk/node";
import { Sector, Universe, UnknownSymbol } from "@meridian/sdk/universe";
import { ErrorInfoSchema } from "@meridian/sdk/common";
import { Health as HealthService } from "../../../../sdk/src/gen/grpc/health/v1/health_meridian.js";
import { HealthCheckResponse_ServingStatus as ServingStatus } from "../../../../sdk/src/gen/grpc/health/v1/health_pb.js";
import { layerHealth } from "../health.js";
import { Lifecycle, layerLifecycle } from "../lifecycle.js";
import { readConfig, serverConfig } from "../config.js";
import { rpcFailure } from "../testing/rpc-failure.js";
import { makeAdmission } from "./admission.js";
import { implement } from "./implement.js";
import { serve, Server } from "./serve.js";

/** Calls of "HOLD" wait for this gate; "AAPL" answers at once; anything else is UnknownSymbol. */
let gate = Effect.runSync(Deferred.make<void>());
let held = 0;

const universe = implement(Universe, {
  getSecurity: (request) =>
    Effect.gen(function* () {
      if (request.symbol === "HOLD") {
        held++;
        yield* Deferred.await(gate);
      } else if (request.symbol !== "AAPL") return yield* new UnknownSymbol({ symbol: request.symbol });
      return { security: { symbol: "AAPL", name: "Apple", sector: Sector.TECHNOLOGY, currency: "USD", active: true } };
    }),
  listSecurities: () => Effect.succeed({ securities: [] }),
  upsertSecurity: () => Effect.die("not used"),
});

let runtime: ManagedRuntime.ManagedRuntime<Server | Lifecycle, unknown>;
let httpUrl = "";
let grpcUrl = "";

beforeAll(async () => {
  const server = serve({ name: "admission-test", services: [universe], config: { httpPort: 0, grpcPort: 0, maxCallsInFlight: 2, logLevel: "warn" } });
  runtime = ManagedRuntime.make(server.pipe(Layer.provideMerge(layerHealth), Layer.provideMerge(layerLifecycle)));
  const addresses = await runtime.runPromise(Effect.service(Server));
  httpUrl = addresses.http.url;
  grpcUrl = addresses.grpc.url;
});

afterAll(async () => {
  await runtime?.dispose();
});

// No retries: the test sees each answer as the server gave it.
const noRetry = { policy: { retry: { maxAttempts: 1 } } } as const;
const connect = () => createMeridianClient(Universe, { baseUrl: httpUrl, ...noRetry });
const grpc = () => createMeridianClient(Universe, { transport: createNodeTransport({ baseUrl: grpcUrl, protocol: "grpc" }), ...noRetry });


async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await Bun.sleep(5);
  expect(condition()).toBe(true);
}

test("MAX_CALLS_IN_FLIGHT: unset is no limit; a bad value stops start-up naming it", async () => {
  const read = (value: string | undefined) => Effect.runPromise(Effect.result(readConfig(serverConfig, { MAX_CALLS_IN_FLIGHT: value })));
  expect(await read(undefined)).toMatchObject({ _tag: "Success", success: { maxCallsInFlight: undefined } });
  expect(await read("64")).toMatchObject({ _tag: "Success", success: { maxCallsInFlight: 64 } });
  for (const bad of ["0", "-3", "1.5", "lots"]) {
    const result = await read(bad);
    expect(result._tag).toBe("Failure");
    if (result._tag === "Failure") expect(result.failure.message).toContain("MAX_CALLS_IN_FLIGHT");
  }
});

test("the admission counts places: taken, refused when full, given back", () => {
  const admission = makeAdmission(2);
  expect([admission.tryEnter(), admission.tryEnter(), admission.tryEnter()]).toEqual([true, true, false]);
  admission.leave();
  expect(admission.tryEnter()).toBe(true);
  expect(admission.tryEnter()).toBe(false);
});

test("past MAX_CALLS_IN_FLIGHT a call is unavailable at once, on Connect and on gRPC; health probes still answer", async () => {
  const start = held;
  // Two calls held in their handlers: the server's two places.
  const running = [connect().getSecurity({ symbol: "HOLD" }), grpc().getSecurity({ symbol: "HOLD" })];
  await until(() => held === start + 2);

  for (const client of [connect(), grpc()]) {
    const refusedAt = performance.now();
    const error = await rpcFailure(client.getSecurity({ symbol: "AAPL" }));
    expect(performance.now() - refusedAt).toBeLessThan(1_000); // answered, not queued behind the held calls
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toContain("server at capacity: 2 calls in flight");
    const [info] = error.findDetails(ErrorInfoSchema);
    expect(info?.reason).toBe("Unavailable");
  }
  // A busy server is not an unhealthy one.
  const probe = createClient(HealthService.desc, createNodeTransport({ baseUrl: grpcUrl, protocol: "grpc" }));
  expect((await probe.check({ service: "" })).status).toBe(ServingStatus.SERVING);
  const probeHttp = createClient(HealthService.desc, createConnectTransport({ baseUrl: httpUrl }));
  expect((await probeHttp.check({ service: "" })).status).toBe(ServingStatus.SERVING);

  // The held calls end: their places are free again.
  await Effect.runPromise(Deferred.succeed(gate, undefined));
  gate = Effect.runSync(Deferred.make<void>());
  for (const answer of await Promise.all(running)) expect(answer.security?.symbol).toBe("AAPL");
  expect((await connect().getSecurity({ symbol: "AAPL" })).security?.symbol).toBe("AAPL");
});

test("a call that fails, or that its caller gives up on, gives its place back", async () => {
  for (let i = 0; i < 5; i++) {
    // Failures (a typed error) and timeouts (the caller's deadline) on both paths.
    expect((await rpcFailure(connect().getSecurity({ symbol: "NOPE" }))).code).toBe(Code.NotFound);
    expect((await rpcFailure(grpc().getSecurity({ symbol: "NOPE" }))).code).toBe(Code.NotFound);
    expect((await rpcFailure(connect().getSecurity({ symbol: "HOLD" }, { timeoutMs: 50 }))).code).toBe(Code.DeadlineExceeded);
    expect((await rpcFailure(grpc().getSecurity({ symbol: "HOLD" }, { timeoutMs: 50 }))).code).toBe(Code.DeadlineExceeded);
  }
  // Were any place still taken, one of these would be refused.
  const answers = await Promise.all([connect().getSecurity({ symbol: "AAPL" }), grpc().getSecurity({ symbol: "AAPL" })]);
  expect(answers.map((a) => a.security?.symbol)).toEqual(["AAPL", "AAPL"]);
  const before = held;
  const [first, second] = [connect().getSecurity({ symbol: "HOLD" }), grpc().getSecurity({ symbol: "HOLD" })];
  await until(() => held === before + 2);
  await Effect.runPromise(Deferred.succeed(gate, undefined));
  await Promise.all([first, second]);
});
