/**
 * createFetchTransport's lean unary path against connect-web's transport set up
 * the same way (`useHttpGet: true`, same interceptors, defaultTimeoutMs and, as
 * its one documented difference, the same fetch that reports an unreachable
 * server as `unavailable`): the same calls, in JSON and in binary, must end the
 * same way (message, headers and trailers seen, code, message, details,
 * metadata, the requests the server received), including deadlines, cancels,
 * interceptors and what only a broken server answers.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { create, toBinary, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type CallOptions, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { createFetchTransport, unreachableAsUnavailable, type FetchTransportOptions } from "./fetch-transport.js";
import { ErrorInfoSchema } from "./gen/meridian/common/v1/error_info_pb.js";
import { UnknownSymbolSchema } from "./gen/meridian/universe/v1/errors_pb.js";
import { GetSecurityResponseSchema, UniverseService } from "./gen/meridian/universe/v1/universe_pb.js";
import { startUniverseServer, symbols, type SeenCall, type UniverseServer } from "./test-fixtures/universe-server.js";

type Target = { readonly baseUrl: string; readonly calls: ReadonlyArray<SeenCall & { url?: string }> };
type Run = (client: Client<typeof UniverseService>, watch: CallOptions) => Promise<unknown>;
type Options = Omit<FetchTransportOptions, "baseUrl" | "useBinaryFormat">;

let server: UniverseServer;
let odd: Target & { close: () => Promise<void> };
const nobody: Target = { baseUrl: "http://127.0.0.1:1", calls: [] };

beforeAll(async () => {
  server = await startUniverseServer("1.1");
  odd = startOddServer();
});
afterAll(async () => {
  await server?.close();
  await odd?.close();
});

const typeOf = (message: unknown) => (message as { $typeName?: string }).$typeName;
const entries = (headers: Headers) => Object.fromEntries([...headers].filter(([key]) => key !== "date"));

/** What a call ended with, comparable across transports: the raw error's class too, as a caller sees it. */
async function outcome(transport: Transport, run: Run) {
  const seen: Array<Record<string, string>> = [];
  const watch: CallOptions = {
    onHeader: (h) => void seen.push({ header: JSON.stringify(entries(h)) }),
    onTrailer: (t) => void seen.push({ trailer: JSON.stringify(entries(t)) }),
  };
  try {
    const ok = JSON.parse(JSON.stringify(await run(createClient(UniverseService, transport), watch), (_, v) => (typeof v === "bigint" ? String(v) : v)));
    return { ok, seen };
  } catch (e) {
    const error = ConnectError.from(e);
    return {
      thrown: e instanceof ConnectError ? "ConnectError" : (e as Error)?.constructor?.name,
      code: Code[error.code],
      message: error.rawMessage,
      details: [...error.findDetails(ErrorInfoSchema), ...error.findDetails(UnknownSymbolSchema)],
      metadata: entries(error.metadata),
      seen,
    };
  }
}

/** Runs the same call through connect-web's transport, then the lean one; outcomes and the requests received must agree. */
async function same(target: Target, useBinaryFormat: boolean, run: Run, options: Options = {}) {
  const before = target.calls.length;
  const { baseUrl } = target;
  const interceptors = [...(options.interceptors ?? [])];
  const web = createConnectTransport({ baseUrl, useBinaryFormat, useHttpGet: true, ...options, interceptors, fetch: unreachableAsUnavailable(baseUrl, undefined) });
  const connect = await outcome(web, run);
  const middle = target.calls.length;
  const lean = await outcome(createFetchTransport({ baseUrl, useBinaryFormat, ...options }), run);
  expect(lean).toEqual(connect);
  const received = (calls: Target["calls"]) => calls.map((c) => ({ method: c.httpMethod, url: c.url, headers: entries(c.headers) }));
  expect(received(target.calls.slice(middle))).toEqual(received(target.calls.slice(before, middle)));
  return lean;
}

async function abortsGrowBy(before: number, count: number) {
  for (let waited = 0; waited < 1000 && server.aborted.length < before + count; waited += 5) await Bun.sleep(5);
  expect(server.aborted.length).toBe(before + count);
}

for (const useBinaryFormat of [false, true]) {
  describe(`createFetchTransport (${useBinaryFormat ? "binary" : "JSON"}) answers as connect-web's transport`, () => {
    const sameOn = (target: Target, run: Run, options?: Options) => same(target, useBinaryFormat, run, options);

    test("NO_SIDE_EFFECTS methods go as GET, others as POST, with the same answer and headers seen", async () => {
      const get = await sameOn(server, (client, watch) => client.getSecurity({ symbol: "AAPL" }, watch));
      expect(get).toMatchObject({ ok: { security: { symbol: "AAPL", name: "Apple Inc.", currency: "USD", active: true } } });
      expect(get.seen).toEqual([{ header: expect.stringContaining(useBinaryFormat ? "application/proto" : "application/json") }, { trailer: "{}" }]);
      expect(server.calls.slice(-2).map((c) => c.httpMethod)).toEqual(["GET", "GET"]);
      expect(await sameOn(server, (client, watch) => client.listSecurities({}, watch))).toMatchObject({ ok: { securities: [{ symbol: "AAPL" }, { symbol: "XOM" }] } });
      expect(server.calls.slice(-2).map((c) => c.httpMethod)).toEqual(["GET", "GET"]);
      const upsert = await sameOn(server, (client, watch) => client.upsertSecurity({ security: { symbol: "MSFT" } }, watch));
      expect(upsert).toMatchObject({ ok: { security: { symbol: "MSFT" }, created: true } });
      expect(server.calls.slice(-2).map((c) => c.httpMethod)).toEqual(["POST", "POST"]);
    });

    test("trailer- headers of an answer reach onTrailer unprefixed, the rest onHeader", async () => {
      const result = await sameOn(odd, (client, watch) => client.getSecurity({ symbol: "AAPL" }, { ...watch, headers: { "x-answer": "trailer" } }));
      expect(result).toMatchObject({ ok: { security: { symbol: "AAPL" } } });
      expect(result.seen[0]?.header).toContain(`"x-odd":"yes"`);
      expect(result.seen[0]?.header).not.toContain("trailer-");
      expect(result.seen[1]).toEqual({ trailer: `{"x-foo":"bar"}` });
    });

    test("a typed error keeps its ErrorInfo detail and metadata; errors without details keep code and message", async () => {
      const typed = await sameOn(server, (client) => client.getSecurity({ symbol: "NOPE" }));
      expect(typed).toMatchObject({ thrown: "ConnectError", code: "NotFound", details: [{ reason: "UnknownSymbol", domain: "universe" }, { symbol: "NOPE" }] });
      expect(Object.keys((typed as { metadata: object }).metadata)).toContain("content-type");
      expect(await sameOn(server, (client) => client.getSecurity({ symbol: symbols.down }))).toMatchObject({ code: "Unavailable", message: "x", details: [] });
      expect(await sameOn(server, (client) => client.getSecurity({ symbol: symbols.lost }))).toMatchObject({ code: "DataLoss", message: "gone", details: [] });
    });

    test("a deadline goes out as connect-timeout-ms, ends deadline_exceeded, and the server's handler is aborted", async () => {
      const before = server.aborted.length;
      const result = await sameOn(server, (client) => client.getSecurity({ symbol: symbols.slow }, { timeoutMs: 50 }));
      expect(result).toMatchObject({ code: "DeadlineExceeded", message: "the operation timed out" });
      expect(server.calls.slice(-2).map((c) => c.headers.get("connect-timeout-ms"))).toEqual(["50", "50"]);
      await abortsGrowBy(before, 2);
    });

    test("defaultTimeoutMs applies to a call that sets no timeoutMs; a timeoutMs of 0 or less sends no deadline", async () => {
      const before = server.aborted.length;
      const options = { defaultTimeoutMs: 40 };
      expect(await sameOn(server, (client) => client.getSecurity({ symbol: symbols.slow }), options)).toMatchObject({ code: "DeadlineExceeded" });
      expect(server.calls.slice(-2).map((c) => c.headers.get("connect-timeout-ms"))).toEqual(["40", "40"]);
      await abortsGrowBy(before, 2);
      for (const timeoutMs of [0, -1]) {
        expect(await sameOn(server, (client) => client.getSecurity({ symbol: "XOM" }, { timeoutMs }), options)).toMatchObject({ ok: { security: { symbol: "XOM" } } });
        expect(server.calls.slice(-2).map((c) => c.headers.get("connect-timeout-ms"))).toEqual([null, null]);
      }
    });

    test("cancelling through the signal ends canceled and the server sees it; a signal aborted before the call never reaches the server", async () => {
      const before = server.aborted.length;
      const result = await sameOn(server, (client) => client.getSecurity({ symbol: symbols.slow }, { signal: AbortSignal.timeout(30) }));
      expect(result).toMatchObject({ code: "Canceled" });
      await abortsGrowBy(before, 2);
      const calls = server.calls.length;
      expect(await sameOn(server, (client) => client.getSecurity({ symbol: "AAPL" }, { signal: AbortSignal.abort("user left") }))).toMatchObject({ code: "Canceled", message: "user left" });
      expect(await sameOn(server, (client) => client.getSecurity({ symbol: "AAPL" }, { signal: AbortSignal.abort() }))).toMatchObject({ code: "Canceled" });
      expect(server.calls.length).toBe(calls);
    });

    test("interceptors run first-outermost, see the same request, set headers the server receives and read the response", async () => {
      const log: unknown[] = [];
      const named =
        (name: string): Interceptor =>
        (next) =>
        async (req) => {
          const { url, requestMethod, stream, message } = req;
          log.push({ name, url, requestMethod, stream, type: typeOf(message), header: entries(req.header), aborted: req.signal.aborted });
          req.header.set(`x-${name}`, "set");
          const res = await next(req);
          log.push({ name, type: typeOf(res.message), header: res.header.get("content-type"), trailer: [...res.trailer] });
          return res;
        };
      await sameOn(server, (client) => client.getSecurity({ symbol: "AAPL" }, { headers: { "x-request-id": "id-1" } }), { interceptors: [named("a"), named("b")] });
      expect(log.slice(4)).toEqual(log.slice(0, 4));
      expect(log.slice(0, 4).map((e) => (e as { name: string }).name)).toEqual(["a", "b", "b", "a"]);
      for (const call of server.calls.slice(-2)) {
        expect([call.headers.get("x-a"), call.headers.get("x-b"), call.headers.get("x-request-id")]).toEqual(["set", "set", "id-1"]);
      }
    });

    test("an interceptor that rejects, before next or after reading the response, ends the call the same way", async () => {
      const rejecting: Interceptor[] = [
        () => async () => {
          throw new Error("boom");
        },
        (next) => async (req) => {
          const res = await next(req);
          throw new ConnectError(`refused ${typeOf(res.message)}`, Code.PermissionDenied);
        },
      ];
      const run: Run = (client) => client.getSecurity({ symbol: "AAPL" });
      expect(await sameOn(server, run, { interceptors: [rejecting[0]!] })).toMatchObject({ thrown: "ConnectError", code: "Unknown", message: "boom" });
      expect(await sameOn(server, run, { interceptors: [rejecting[1]!] })).toMatchObject({ code: "PermissionDenied", message: "refused meridian.universe.v1.GetSecurityResponse" });
    });

    test("an interceptor that throws synchronously ends the call as connect-web's does", async () => {
      const throwing: Interceptor = () => () => {
        throw new Error("boom");
      };
      expect(await sameOn(server, (client) => client.getSecurity({ symbol: "AAPL" }), { interceptors: [throwing] })).toMatchObject({ code: "Unknown", message: "boom" });
    });

    test("nothing listening: unavailable, 'cannot reach <baseUrl>'", async () => {
      const result = await sameOn(nobody, (client) => client.getSecurity({ symbol: "AAPL" }));
      expect(result).toMatchObject({ code: "Unavailable", message: expect.stringMatching(/^cannot reach http:\/\/127\.0\.0\.1:1: /) });
    });

    test("what a broken server answers fails the same way", async () => {
      // answer: [code in JSON, code in binary]; "ok" for an answer taken.
      const expected: Record<string, [string, string]> = {
        "http-503": ["Unavailable", "Unavailable"],
        "http-404": ["Unimplemented", "Unimplemented"],
        "wrong-type": ["Unknown", "Unknown"],
        "error-json": ["NotFound", "NotFound"],
        "bad-json": ["Unknown", "Internal"],
        "bad-binary": ["Internal", "Internal"],
        redirect: ["Unavailable", "Unavailable"],
        "unknown-field": ["ok", "Internal"],
      };
      for (const [answer, codes] of Object.entries(expected)) {
        const result = await sameOn(odd, (client) => client.getSecurity({ symbol: "AAPL" }, { headers: { "x-answer": answer }, timeoutMs: 1000 }));
        expect({ answer, code: "ok" in result ? "ok" : result.code }).toEqual({ answer, code: codes[useBinaryFormat ? 1 : 0] });
      }
    });
  });
}

/** A Bun.serve server that answers GetSecurity as its x-answer header says, mostly wrongly, and records what it received. */
function startOddServer(): Target & { close: () => Promise<void> } {
  const calls: Array<SeenCall & { url: string }> = [];
  const answer = create(GetSecurityResponseSchema, { security: { symbol: "AAPL" } });
  const bun = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request) {
      const url = new URL(request.url);
      calls.push({ procedure: url.pathname, httpMethod: request.method, url: url.pathname + url.search, headers: request.headers });
      const binary = url.searchParams.get("encoding") === "proto" || (request.headers.get("content-type") ?? "").includes("proto");
      const odd = { "x-odd": "yes", "trailer-x-foo": "bar" };
      const json = { ...odd, "content-type": "application/json" };
      switch (request.headers.get("x-answer")) {
        case "trailer":
          return binary
            ? new Response(toBinary(GetSecurityResponseSchema, answer), { headers: { ...odd, "content-type": "application/proto" } })
            : new Response(JSON.stringify(toJson(GetSecurityResponseSchema, answer)), { headers: json });
        case "http-503":
          return new Response(null, { status: 503, headers: odd });
        case "http-404":
          return new Response("no such page", { status: 404, headers: odd });
        case "wrong-type":
          return new Response("<html>", { headers: { ...odd, "content-type": "text/html" } });
        case "error-json":
          return new Response(JSON.stringify({ code: "not_found", message: "x" }), { status: 404, headers: json });
        case "bad-json":
          return new Response("{not json", { headers: json });
        case "bad-binary":
          return new Response(new Uint8Array([0xff, 0xff, 0xff]), { headers: { ...odd, "content-type": "application/proto" } });
        case "redirect":
          return new Response(null, { status: 302, headers: { ...odd, location: "/elsewhere" } });
        case "unknown-field":
          return new Response(JSON.stringify({ security: { symbol: "AAPL" }, extra: 1 }), { headers: json });
      }
      return new Response("unknown answer", { status: 400 });
    },
  });
  return { baseUrl: `http://127.0.0.1:${bun.port}`, calls, close: () => bun.stop(true) };
}
