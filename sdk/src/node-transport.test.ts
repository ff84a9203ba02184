import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Effect, Stream } from "effect";
import { Code, ConnectError } from "@connectrpc/connect";
import { createEffectClient, createNodeTransport, goawayIsUnavailable, type NodeTransportOptions } from "./node.js";
import { UnknownSymbol } from "./gen/meridian/universe/v1/errors_meridian.js";
import { Universe } from "./gen/meridian/universe/v1/universe_meridian.js";
import { Ticker } from "./test-fixtures/ticker-service.js";
import { startUniverseServer, symbols, type UniverseServer } from "./test-fixtures/universe-server.js";

const cases: ReadonlyArray<{ name: string; server: "1.1" | "2"; options: Omit<NodeTransportOptions, "baseUrl"> }> = [
  { name: "connect over HTTP/1.1 (the default)", server: "1.1", options: { protocol: "connect" } },
  { name: "connect JSON over HTTP/1.1", server: "1.1", options: { protocol: "connect", binary: false } },
  { name: "connect over HTTP/2", server: "2", options: { protocol: "connect", httpVersion: "2" } },
  { name: "grpc-web over HTTP/1.1 (the default)", server: "1.1", options: { protocol: "grpc-web" } },
  { name: "grpc over HTTP/2", server: "2", options: { protocol: "grpc" } },
];

for (const { name, server: httpVersion, options } of cases) {
  describe(`createNodeTransport: ${name}`, () => {
    let server: UniverseServer;
    beforeAll(async () => {
      server = await startUniverseServer(httpVersion);
    });
    afterAll(() => server.close());

    const target = () => ({ transport: createNodeTransport({ baseUrl: server.baseUrl, ...options }) });

    test("a unary call succeeds", async () => {
      const client = createEffectClient(Universe, target());
      const response = await Effect.runPromise(client.getSecurity({ symbol: "XOM" }));
      expect(response.security?.name).toBe("Exxon Mobil");
    });

    test("a domain error comes back typed, with its fields", async () => {
      const client = createEffectClient(Universe, target());
      const symbol = await Effect.runPromise(
        client.getSecurity({ symbol: "NOPE" }).pipe(
          Effect.map(() => "found"),
          Effect.catchTag("UnknownSymbol", (error) => Effect.succeed(error.symbol)),
        ),
      );
      expect(symbol).toBe("NOPE");
    });

    test("a server stream emits every message, then its typed error", async () => {
      const client = createEffectClient(Ticker, target());
      const received = await Effect.runPromise(Stream.runCollect(client.watchSecurities({ currency: "USD" })));
      expect(received.map((s) => s.symbol)).toEqual(["AAPL", "XOM"]);
      const error = await Effect.runPromise(Effect.flip(Stream.runCollect(client.watchSecurities({ currency: "EUR" }))));
      expect(error).toBeInstanceOf(UnknownSymbol);
    });

    test("interrupting a call aborts it on the server", async () => {
      const client = createEffectClient(Universe, target());
      const since = server.aborted.length;
      await Effect.runPromiseExit(client.getSecurity({ symbol: symbols.slow }).pipe(Effect.timeout(50)));
      for (let waitedMs = 0; waitedMs < 1000 && server.aborted.length === since; waitedMs += 5) await Bun.sleep(5);
      expect(server.aborted[since]).toBe("GetSecurity");
    });
  });
}

describe("createNodeTransport: HTTP methods", () => {
  let server: UniverseServer;
  beforeAll(async () => {
    server = await startUniverseServer("1.1");
  });
  afterAll(() => server.close());

  test("connect sends NO_SIDE_EFFECTS methods as GET and others as POST", async () => {
    const client = createEffectClient(Universe, {
      transport: createNodeTransport({ baseUrl: server.baseUrl, protocol: "connect" }),
    });
    await Effect.runPromise(client.listSecurities({}));
    await Effect.runPromise(client.upsertSecurity({ security: { symbol: "MSFT" } }));
    expect(server.calls.map((c) => `${c.httpMethod} ${c.procedure}`)).toEqual([
      "GET ListSecurities",
      "POST UpsertSecurity",
    ]);
  });

  test("grpc-web sends every method as POST", async () => {
    const client = createEffectClient(Universe, {
      transport: createNodeTransport({ baseUrl: server.baseUrl, protocol: "grpc-web" }),
    });
    const before = server.calls.length;
    await Effect.runPromise(client.listSecurities({}));
    expect(server.calls[before]?.httpMethod).toBe("POST");
  });
});

describe("goawayIsUnavailable", () => {
  const call = (thrown: unknown) =>
    goawayIsUnavailable(async () => {
      throw thrown;
    })({} as never);

  test("a stream refused after the server's GOAWAY becomes unavailable (retryable), keeping its message", async () => {
    const refused = new ConnectError("New streams cannot be created after receiving a GOAWAY", Code.Internal);
    const error = ConnectError.from(await call(refused).catch((e: unknown) => e));
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toContain("GOAWAY");
  });

  test("other errors pass unchanged", async () => {
    const other = new ConnectError("boom", Code.Internal);
    expect(await call(other).catch((e: unknown) => e)).toBe(other);
  });
});
