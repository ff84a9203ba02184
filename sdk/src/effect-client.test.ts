import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code } from "@connectrpc/connect";
import { Cause, Effect, Exit, Stream } from "effect";
import { createEffectClient } from "./effect-client.js";
import { RpcFailure } from "./errors.js";
import { Unavailable, type KitError } from "./kit-errors.js";
import { UnknownSymbol } from "./gen/meridian/universe/v1/errors_meridian.js";
import { Universe } from "./gen/meridian/universe/v1/universe_meridian.js";
import { Ticker } from "./test-fixtures/ticker-service.js";
import { endlessCurrency, startUniverseServer, symbols, type UniverseServer } from "./test-fixtures/universe-server.js";

let server: UniverseServer;
beforeAll(async () => {
  server = await startUniverseServer();
});
afterAll(() => server.close());

const failureOf = <A, E>(effect: Effect.Effect<A, E>): Promise<E> => Effect.runPromise(Effect.flip(effect));

/** The procedure of the next call the server sees aborted, or a note that it saw none within a second. */
async function nextAbortOnServer(since: number): Promise<string> {
  for (let waitedMs = 0; waitedMs < 1000; waitedMs += 5) {
    const procedure = server.aborted[since];
    if (procedure !== undefined) return procedure;
    await Bun.sleep(5);
  }
  return "the server saw no abort";
}

describe("createEffectClient, unary", () => {
  test("a call succeeds with the server's response", async () => {
    const client = createEffectClient(Universe, { baseUrl: server.baseUrl });
    const response = await Effect.runPromise(client.getSecurity({ symbol: "AAPL" }));
    expect(response.security?.name).toBe("Apple Inc.");
  });

  test("the error channel is the service's domain errors and the kit's, exactly", () => {
    const client = createEffectClient(Universe, { baseUrl: server.baseUrl });
    type Failure = Effect.Error<ReturnType<typeof client.getSecurity>>;
    const exact: Equals<Failure, UnknownSymbol | KitError> = true;
    expect(exact).toBe(true);
  });

  test("catchTag handles the domain error the server raised, with its fields", async () => {
    const client = createEffectClient(Universe, { baseUrl: server.baseUrl });
    const program = client.getSecurity({ symbol: "NOPE" }).pipe(
      Effect.map(() => "found"),
      Effect.catchTag("UnknownSymbol", (error) => Effect.succeed(`unknown ${error.symbol}`)),
    );
    // The handled tag is gone from the error channel; the kit's remain.
    const rest: Equals<Effect.Error<typeof program>, KitError> = true;
    expect(rest).toBe(true);
    expect(await Effect.runPromise(program)).toBe("unknown NOPE");
  });

  test("a bare unavailable from the server becomes Unavailable", async () => {
    // Without retries: with them, the call would end as RetriesExhausted (see policies/).
    const client = createEffectClient(Universe, { baseUrl: server.baseUrl, policy: { retry: false } });
    const error = await failureOf(client.getSecurity({ symbol: symbols.down }));
    expect(error).toBeInstanceOf(Unavailable);
    expect(error.message).toBe("x");
  });

  test("a code no typed error claims becomes RpcFailure with that code", async () => {
    const client = createEffectClient(Universe, { baseUrl: server.baseUrl });
    const error = await failureOf(client.getSecurity({ symbol: symbols.lost }));
    expect(error).toBeInstanceOf(RpcFailure);
    expect(error.code).toBe(Code.DataLoss);
  });

  test("interrupting the call aborts the request on the server", async () => {
    const client = createEffectClient(Universe, { baseUrl: server.baseUrl });
    const since = server.aborted.length;
    const exit = await Effect.runPromiseExit(client.getSecurity({ symbol: symbols.slow }).pipe(Effect.timeout(50)));
    expect(Exit.isFailure(exit) && Cause.hasFails(exit.cause)).toBe(true);
    expect(await nextAbortOnServer(since)).toBe("GetSecurity");
  });

  test("per-call headers reach the server", async () => {
    const client = createEffectClient(Universe, { baseUrl: server.baseUrl });
    const before = server.calls.length;
    await Effect.runPromise(client.listSecurities({}, { headers: { "x-request-id": "req-7" } }));
    expect(server.calls[before]?.headers.get("x-request-id")).toBe("req-7");
  });
});

describe("createEffectClient, server streaming", () => {
  test("a stream emits every message the server sends", async () => {
    const client = createEffectClient(Ticker, { baseUrl: server.baseUrl });
    const received = await Effect.runPromise(Stream.runCollect(client.watchSecurities({ currency: "USD" })));
    expect(received.map((s) => s.symbol)).toEqual(["AAPL", "XOM"]);
  });

  test("a stream fails with the typed error the server ends it with", async () => {
    const client = createEffectClient(Ticker, { baseUrl: server.baseUrl });
    const error = await failureOf(Stream.runCollect(client.watchSecurities({ currency: "EUR" })));
    expect(error).toBeInstanceOf(UnknownSymbol);
    if (error._tag !== "UnknownSymbol") throw error;
    expect(error.symbol).toBe("EUR");
  });

  test("a stream consumed no further aborts the request on the server", async () => {
    const client = createEffectClient(Ticker, { baseUrl: server.baseUrl });
    const since = server.aborted.length;
    const first = await Effect.runPromise(
      Stream.runCollect(Stream.take(client.watchSecurities({ currency: endlessCurrency }), 1)),
    );
    expect(first.map((s) => s.symbol)).toEqual(["AAPL"]);
    expect(await nextAbortOnServer(since)).toBe("WatchSecurities");
  });
});

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
