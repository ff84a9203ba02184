/**
 * The kit's server, end to end over real sockets: typed errors, defects,
 * deadlines (the client's and the cap), cancellation, streams and shutdown.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { Effect, Layer, ManagedRuntime, Schedule, Stream } from "effect";
import { createMeridianClient, typedErrorOf, meridianService } from "@meridian/sdk";
import { createNodeTransport } from "@meridian/sdk/node";
import { Sector, Universe, UnknownSymbol } from "@meridian/sdk/universe";
import { ErrorInfoSchema } from "@meridian/sdk/common";
import { TickerService } from "../../../../sdk/src/test-fixtures/ticker-service.js";
import { layerHealth } from "../health.js";
import { Lifecycle, layerLifecycle } from "../lifecycle.js";
import { configureLogging, type LogSink } from "../log.js";
import { RequestContext } from "./call.js";
import { implement } from "./implement.js";
import { serve, Server } from "./serve.js";
import { rpcFailure } from "../testing/rpc-failure.js";

const logged: Array<Record<string, unknown>> = [];
const sink: LogSink = { write: (line) => void logged.push(JSON.parse(line)), flush: () => {} };

/** What the handlers saw, for assertions. */
const seen = { interrupted: 0, remainingMs: [] as number[], correlationIds: [] as string[] };

const universe = implement(Universe, {
  getSecurity: (request) =>
    Effect.gen(function* () {
      const context = yield* Effect.service(RequestContext);
      seen.correlationIds.push(context.correlationId);
      seen.remainingMs.push(context.remainingMs());
      if (request.symbol === "BUG") {
        return yield* Effect.die(new Error("SELECT secret FROM vault -- at handler.ts:1"));
      }
      if (request.symbol === "SLOW") {
        yield* Effect.sleep("10 seconds").pipe(Effect.onInterrupt(() => Effect.sync(() => seen.interrupted++)));
      }
      if (request.symbol !== "AAPL") return yield* new UnknownSymbol({ symbol: request.symbol });
      context.responseHeader.set("x-served-by", "kit-test");
      return { security: { symbol: "AAPL", name: "Apple", sector: Sector.TECHNOLOGY, currency: "USD", active: true } };
    }),
  listSecurities: () => Effect.succeed({ securities: [] }),
  upsertSecurity: () => Effect.die("not used"),
});

const streams = { ended: 0 };
const ticker = implement(meridianService(TickerService, [UnknownSymbol] as const), {
  watchSecurities: (request) =>
    request.currency === "BAD"
      ? Stream.fail(new UnknownSymbol({ symbol: "BAD" }))
      : Stream.iterate(0, (n) => n + 1).pipe(
          Stream.schedule(Schedule.spaced("10 millis")),
          Stream.map((n) => ({ symbol: `T${n}`, name: "tick", sector: Sector.ENERGY, currency: "USD", active: true })),
          Stream.ensuring(Effect.sync(() => streams.ended++)),
        ),
});

let runtime: ManagedRuntime.ManagedRuntime<Server | Lifecycle, unknown>;
let httpUrl = "";
let grpcUrl = "";

beforeAll(async () => {
  configureLogging({ sink, level: "info" });
  const server = serve({
    name: "kit-test",
    services: [universe, ticker],
    config: {
      httpPort: 0,
      grpcPort: 0,
      deadlineCapMs: 300,
      shutdownGraceMs: 2000,
      logBodies: ["meridian.universe.v1.UniverseService/GetSecurity"],
    },
  });
  runtime = ManagedRuntime.make(
    server.pipe(Layer.provideMerge(layerHealth), Layer.provideMerge(layerLifecycle)),
  );
  const addresses = await runtime.runPromise(Effect.service(Server));
  httpUrl = addresses.http.url;
  grpcUrl = addresses.grpc.url;
});

afterAll(async () => {
  await runtime?.dispose();
  configureLogging({ level: "warn" });
});

const connect = () => createMeridianClient(Universe, { baseUrl: httpUrl });
const grpc = () => createMeridianClient(Universe, { transport: createNodeTransport({ baseUrl: grpcUrl, protocol: "grpc" }) });


describe("kit server", () => {
  test("a typed error keeps its code, ErrorInfo and typed detail on Connect and gRPC", async () => {
    for (const client of [connect(), grpc()]) {
      const error = await rpcFailure(client.getSecurity({ symbol: "NOPE" }));
      expect(error.code).toBe(Code.NotFound);
      const [info] = error.findDetails(ErrorInfoSchema);
      expect(info).toMatchObject({ reason: "UnknownSymbol", domain: "universe", metadata: { symbol: "NOPE" } });
      const typed = typedErrorOf(Universe, error);
      expect(typed._tag).toBe("UnknownSymbol");
    }
  });

  test("a defect is internal with a generic message and the correlation id; the cause goes only to the log", async () => {
    const error = await rpcFailure(connect().getSecurity({ symbol: "BUG" }, { headers: { "x-request-id": "bug-1" } }));
    expect(error.code).toBe(Code.Internal);
    expect(error.rawMessage).toBe("internal error (correlation id bug-1)");
    const wire = JSON.stringify({ message: error.rawMessage, details: error.details });
    expect(wire).not.toContain("SELECT");
    expect(wire).not.toContain("handler.ts");
    await Bun.sleep(20);
    const defect = logged.find((l) => l.message === "defect in handler" && l.correlation_id === "bug-1");
    expect(String(defect?.cause)).toContain("SELECT secret");
  });

  test("the client's deadline interrupts the handler and answers deadline_exceeded", async () => {
    const before = seen.interrupted;
    const error = await rpcFailure(connect().getSecurity({ symbol: "SLOW" }, { timeoutMs: 100 }));
    expect(error.code).toBe(Code.DeadlineExceeded);
    await Bun.sleep(50);
    expect(seen.interrupted).toBe(before + 1);
  });

  test("a longer deadline than the cap is cut to the cap, and handlers see what is left", async () => {
    seen.remainingMs.length = 0;
    const started = performance.now();
    const error = await rpcFailure(grpc().getSecurity({ symbol: "SLOW" }, { timeoutMs: 10_000 }));
    expect(error.code).toBe(Code.DeadlineExceeded);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(seen.remainingMs[0]!).toBeLessThanOrEqual(300);
    expect(seen.remainingMs[0]!).toBeGreaterThan(0);
  });

  test("a client that goes away interrupts its handler", async () => {
    const before = seen.interrupted;
    const abort = new AbortController();
    const call = connect().getSecurity({ symbol: "SLOW" }, { signal: abort.signal });
    await Bun.sleep(50);
    abort.abort();
    await rpcFailure(call);
    await Bun.sleep(100);
    expect(seen.interrupted).toBe(before + 1);
  });

  test("the correlation id comes from x-request-id, is echoed, and is in the access log", async () => {
    let echoed = null as string | null;
    let servedBy = null as string | null;
    await connect().getSecurity(
      { symbol: "AAPL" },
      { headers: { "x-request-id": "req-42" }, onHeader: (h) => ((echoed = h.get("x-request-id")), (servedBy = h.get("x-served-by"))) },
    );
    expect(echoed).toBe("req-42");
    expect(servedBy).toBe("kit-test");
    expect(seen.correlationIds.at(-1)).toBe("req-42");
    await Bun.sleep(20);
    const line = logged.find((l) => l.message === "rpc" && l.correlation_id === "req-42");
    expect(line).toMatchObject({
      method: "meridian.universe.v1.UniverseService/GetSecurity",
      protocol: "connect",
      code: "ok",
      level: "info",
    });
    expect(typeof line?.duration_ms).toBe("number");
    expect(line?.peer).toBeUndefined(); // LOG_PEER=errors (the default): only failed calls name their peer
    expect(line?.request).toEqual({ symbol: "AAPL" }); // GetSecurity's bodies are logged (opt-in)
  });

  test("request bodies are not logged unless the method opted in", async () => {
    await connect().listSecurities({ currency: "USD" }, { headers: { "x-request-id": "list-1" } });
    await Bun.sleep(20);
    const line = logged.find((l) => l.message === "rpc" && l.correlation_id === "list-1");
    expect(line).toBeDefined();
    expect(line?.request).toBeUndefined();
  });

  test("a failed call's access-log line names the peer's address", async () => {
    await rpcFailure(connect().getSecurity({ symbol: "NOPE" }, { headers: { "x-request-id": "peer-1" } }));
    await Bun.sleep(20);
    const line = logged.find((l) => l.message === "rpc" && l.correlation_id === "peer-1");
    expect(String(line?.peer)).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  test("a request without x-request-id gets a fresh one", async () => {
    let echoed = null as string | null;
    await grpc().getSecurity({ symbol: "AAPL" }, { onHeader: (h) => void (echoed = h.get("x-request-id")) });
    expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
  });

  test("a server stream sends until the client stops, then the stream's resources are released", async () => {
    const client = createMeridianClient(meridianService(TickerService, []), {
      transport: createNodeTransport({ baseUrl: grpcUrl, protocol: "grpc" }),
    });
    const before = streams.ended;
    const abort = new AbortController();
    const symbols: string[] = [];
    try {
      for await (const security of client.watchSecurities({}, { signal: abort.signal })) {
        symbols.push(security.symbol);
        if (symbols.length === 3) abort.abort();
      }
    } catch (e) {
      expect(ConnectError.from(e).code).toBe(Code.Canceled);
    }
    expect(symbols).toEqual(["T0", "T1", "T2"]);
    await Bun.sleep(100);
    expect(streams.ended).toBe(before + 1);
  });

  test("a typed failure in a stream reaches the client typed", async () => {
    const client = createMeridianClient(meridianService(TickerService, []), { baseUrl: httpUrl });
    const error = await rpcFailure(
      (async () => {
        for await (const _ of client.watchSecurities({ currency: "BAD" })) {
          // nothing arrives before the failure
        }
      })(),
    );
    expect(error.code).toBe(Code.NotFound);
    expect(typedErrorOf(Universe, error)._tag).toBe("UnknownSymbol");
  });

  test("/metrics counts calls by method, protocol and code in Prometheus text", async () => {
    const scrape = async () => (await (await fetch(`${httpUrl}/metrics`)).text()).split("\n");
    const line = (lines: string[]) =>
      lines.find((l) =>
        l.startsWith(
          'rpc_server_requests_total{method="meridian.universe.v1.UniverseService/GetSecurity",protocol="connect",code="not_found"}',
        ),
      );
    const before = Number(line(await scrape())?.split(" ")[1] ?? 0);
    await rpcFailure(connect().getSecurity({ symbol: "NOPE1" }));
    await rpcFailure(connect().getSecurity({ symbol: "NOPE2" }));
    const after = await scrape();
    expect(Number(line(after)?.split(" ")[1])).toBe(before + 2);
    expect(after).toContain("# TYPE rpc_server_duration_seconds histogram");
  });

  test("an unknown method is unimplemented, with the caller's correlation id back and a log line", async () => {
    const response = await fetch(`${httpUrl}/meridian.universe.v1.UniverseService/NoSuchMethod`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "nope-1" },
      body: "{}",
    });
    expect(response.status).toBe(404);
    expect(response.headers.get("x-request-id")).toBe("nope-1");
    expect(await response.json()).toMatchObject({ code: "unimplemented" });
    await Bun.sleep(20);
    expect(logged.find((l) => l.correlation_id === "nope-1")).toMatchObject({ code: "unimplemented", protocol: "connect" });
  });

  test("/healthz and /readyz answer JSON with the service's state", async () => {
    const live = await fetch(`${httpUrl}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.json()).toMatchObject({ status: "healthy", service: "kit-test", lifecycle: "running" });
    const ready = await fetch(`${httpUrl}/readyz`);
    expect(ready.status).toBe(200);
  });

  test("shutdown: readiness turns false and open streams end cleanly", async () => {
    const client = createMeridianClient(meridianService(TickerService, []), { baseUrl: httpUrl });
    const received: string[] = [];
    const consumed = (async () => {
      for await (const security of client.watchSecurities({})) received.push(security.symbol);
      return "ended";
    })();
    await Bun.sleep(100);
    const lifecycle = await runtime.runPromise(Effect.service(Lifecycle));
    lifecycle.beginShutdown();
    expect(await consumed).toBe("ended");
    expect(received.length).toBeGreaterThan(0);
    const ready = await fetch(`${httpUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: "unhealthy", lifecycle: "stopping" });
  });
});
