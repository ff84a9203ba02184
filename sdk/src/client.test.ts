import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { createMeridianClient, typedErrorOf } from "./client.js";
import { DeadlineExceeded } from "./kit-errors.js";
import { UnknownSymbol } from "./gen/meridian/universe/v1/errors_meridian.js";
import { Universe } from "./gen/meridian/universe/v1/universe_meridian.js";
import { startUniverseServer, symbols, type UniverseServer } from "./test-fixtures/universe-server.js";

let server: UniverseServer;
beforeAll(async () => {
  server = await startUniverseServer();
});
afterAll(() => server.close());

describe("createMeridianClient over fetch", () => {
  test("a call resolves with the server's response", async () => {
    const client = createMeridianClient(Universe, { baseUrl: server.baseUrl });
    const response = await client.listSecurities({});
    expect(response.securities.map((s) => s.symbol)).toEqual(["AAPL", "XOM"]);
  });

  test("a failed call rejects with a ConnectError that typedErrorOf rebuilds as the typed error", async () => {
    const client = createMeridianClient(Universe, { baseUrl: server.baseUrl });
    const cause = await client.getSecurity({ symbol: "NOPE" }).catch((e: unknown) => e);
    expect(cause).toBeInstanceOf(ConnectError);
    expect((cause as ConnectError).code).toBe(Code.NotFound);

    const error = typedErrorOf(Universe, cause);
    expect(error).toBeInstanceOf(UnknownSymbol);
    if (error._tag !== "UnknownSymbol") throw error;
    expect(error.symbol).toBe("NOPE");
  });

  test("NO_SIDE_EFFECTS methods go as GET, others as POST", async () => {
    const client = createMeridianClient(Universe, { baseUrl: server.baseUrl });
    const before = server.calls.length;
    await client.getSecurity({ symbol: "AAPL" });
    await client.listSecurities({});
    await client.upsertSecurity({ security: { symbol: "MSFT" } });
    expect(server.calls.slice(before).map((c) => `${c.httpMethod} ${c.procedure}`)).toEqual([
      "GET GetSecurity",
      "GET ListSecurities",
      "POST UpsertSecurity",
    ]);
  });

  test("binary format works too", async () => {
    const client = createMeridianClient(Universe, { baseUrl: server.baseUrl, useBinaryFormat: true });
    const before = server.calls.length;
    const response = await client.getSecurity({ symbol: "XOM" });
    expect(response.security?.name).toBe("Exxon Mobil");
    expect(server.calls[before]?.httpMethod).toBe("GET");
  });

  test("per-call headers reach the server", async () => {
    const client = createMeridianClient(Universe, { baseUrl: server.baseUrl });
    const before = server.calls.length;
    await client.listSecurities({}, { headers: { "x-request-id": "req-42" } });
    expect(server.calls[before]?.headers.get("x-request-id")).toBe("req-42");
  });

  test("a per-call timeoutMs ends the call as DeadlineExceeded", async () => {
    const client = createMeridianClient(Universe, { baseUrl: server.baseUrl });
    const before = server.calls.length;
    const cause = await client.getSecurity({ symbol: symbols.slow }, { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(server.calls[before]?.headers.get("connect-timeout-ms")).toBe("50");
    expect(typedErrorOf(Universe, cause)).toBeInstanceOf(DeadlineExceeded);
  });
});
