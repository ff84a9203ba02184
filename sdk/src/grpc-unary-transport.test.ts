/**
 * The lean unary gRPC transport against connect-node's gRPC transport: the
 * same calls, to the same servers, must end the same way (message, headers,
 * trailers, code, message, details, metadata), including answers only a
 * broken server gives.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { create, toBinary } from "@bufbuild/protobuf";
import { createGrpcUnaryTransport } from "./grpc-unary-transport.js";
import { ErrorInfoSchema } from "./gen/meridian/common/v1/error_info_pb.js";
import { GetSecurityResponseSchema, UniverseService } from "./gen/meridian/universe/v1/universe_pb.js";
import { startUniverseServer, symbols, type UniverseServer } from "./test-fixtures/universe-server.js";

let server: UniverseServer;
let broken: { url: string; close: () => Promise<void> };

beforeAll(async () => {
  server = await startUniverseServer("2");
  broken = await startBrokenServer();
});
afterAll(async () => {
  await server?.close();
  await broken?.close();
});

/** What a call ended with, comparable across transports. */
async function outcome(transport: Transport, run: (client: ReturnType<typeof createClient<typeof UniverseService>>) => Promise<unknown>) {
  const client = createClient(UniverseService, transport);
  try {
    return { ok: JSON.parse(JSON.stringify(await run(client), (_, v) => (typeof v === "bigint" ? String(v) : v))) };
  } catch (e) {
    const error = ConnectError.from(e);
    const metadata: Record<string, string> = {};
    error.metadata.forEach((value, key) => {
      // connect-node offers gzip and br, the lean transport no compression: only the negotiation differs.
      if (key !== "date" && key !== "grpc-encoding" && key !== "grpc-accept-encoding") metadata[key] = value;
    });
    return { code: Code[error.code], message: error.rawMessage, details: error.findDetails(ErrorInfoSchema), metadata };
  }
}

/** Runs the same call through both transports; they must agree. Returns the outcome. */
async function same(baseUrl: string, run: Parameters<typeof outcome>[1], options: { interceptors?: Interceptor[] } = {}) {
  const connect = await outcome(createGrpcTransport({ baseUrl, ...options }), run);
  const lean = await outcome(createGrpcUnaryTransport({ baseUrl, ...options }), run);
  expect(lean).toEqual(connect);
  return lean;
}

describe("createGrpcUnaryTransport answers as connect-node's gRPC transport", () => {
  test("a response, with the server's headers and trailers", async () => {
    const seen: Array<Record<string, string | null>> = [];
    const result = await same(server.baseUrl, (client) =>
      client.getSecurity(
        { symbol: "AAPL" },
        {
          onHeader: (h) => void seen.push({ contentType: h.get("content-type") }),
          onTrailer: (t) => void seen.push({ status: t.get("grpc-status") }),
        },
      ),
    );
    expect(result).toMatchObject({ ok: { security: { symbol: "AAPL", name: "Apple Inc.", sector: 1, currency: "USD", active: true } } });
    expect(seen).toEqual([{ contentType: "application/grpc+proto" }, { status: "0" }, { contentType: "application/grpc+proto" }, { status: "0" }]);
  });

  test("a typed error with its ErrorInfo detail; errors without details keep code and message", async () => {
    const typed = await same(server.baseUrl, (client) => client.getSecurity({ symbol: "NOPE" }));
    expect(typed).toMatchObject({ code: "NotFound", details: [{ reason: "UnknownSymbol", domain: "universe" }] });
    expect(await same(server.baseUrl, (client) => client.getSecurity({ symbol: symbols.down }))).toMatchObject({ code: "Unavailable" });
    expect(await same(server.baseUrl, (client) => client.getSecurity({ symbol: symbols.lost }))).toMatchObject({ code: "DataLoss" });
  });

  test("the deadline goes out as grpc-timeout and ends the call with deadline_exceeded, the server's handler aborted", async () => {
    const before = server.aborted.length;
    const result = await same(server.baseUrl, (client) => client.getSecurity({ symbol: symbols.slow }, { timeoutMs: 50 }));
    expect(result).toMatchObject({ code: "DeadlineExceeded" });
    expect(server.calls.at(-1)?.headers.get("grpc-timeout")).toBe("50m");
    for (let waited = 0; waited < 1000 && server.aborted.length < before + 2; waited += 5) await Bun.sleep(5);
    expect(server.aborted.length).toBe(before + 2);
  });

  test("a cancelled call ends canceled, and the server sees the cancellation", async () => {
    const before = server.aborted.length;
    const result = await same(server.baseUrl, (client) => {
      const abort = new AbortController();
      setTimeout(() => abort.abort(), 30);
      return client.getSecurity({ symbol: symbols.slow }, { signal: abort.signal });
    });
    expect(result).toMatchObject({ code: "Canceled" });
    for (let waited = 0; waited < 1000 && server.aborted.length < before + 2; waited += 5) await Bun.sleep(5);
    expect(server.aborted.length).toBe(before + 2);
  });

  test("interceptors run and their headers reach the server; request headers are sent", async () => {
    const stamp: Interceptor = (next) => (request) => {
      request.header.set("x-stamp", "stamped");
      return next(request);
    };
    await same(server.baseUrl, (client) => client.getSecurity({ symbol: "AAPL" }, { headers: { "x-request-id": "id-1" } }), { interceptors: [stamp] });
    for (const call of server.calls.slice(-2)) {
      expect(call.headers.get("x-stamp")).toBe("stamped");
      expect(call.headers.get("x-request-id")).toBe("id-1");
      expect(call.headers.get("content-type")).toBe("application/grpc+proto");
      expect(call.headers.get("te")).toBe("trailers");
    }
  });

  test("no server listening: unavailable", async () => {
    const result = await same("http://127.0.0.1:1", (client) => client.getSecurity({ symbol: "AAPL" }));
    expect(result).toMatchObject({ code: "Unavailable" });
  });

  test("what a broken server answers fails the same way", async () => {
    for (const answer of ["trailers-only", "status-and-message", "http-503", "no-status", "extra-message", "compressed", "truncated", "wrong-type"]) {
      const result = await same(broken.url, (client) => client.getSecurity({ symbol: "AAPL" }, { headers: { "x-answer": answer }, timeoutMs: 1000 }));
      expect({ answer, result }).not.toMatchObject({ answer, result: { ok: expect.anything() } });
    }
  });

  test("a stream the server resets unanswered: unavailable at once (connect-node, under Bun, waits for the deadline)", async () => {
    const call = (transport: Transport) =>
      outcome(transport, (client) => client.getSecurity({ symbol: "AAPL" }, { headers: { "x-answer": "reset" }, timeoutMs: 1000 }));
    const started = performance.now();
    expect(await call(createGrpcUnaryTransport({ baseUrl: broken.url }))).toMatchObject({ code: "Unavailable" });
    expect(performance.now() - started).toBeLessThan(900);
    expect(await call(createGrpcTransport({ baseUrl: broken.url }))).toMatchObject({ code: "DeadlineExceeded" });
  });
});

/** An HTTP/2 server that answers GetSecurity as its x-answer header says, mostly wrongly. */
async function startBrokenServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const message = toBinary(GetSecurityResponseSchema, create(GetSecurityResponseSchema, { security: { symbol: "AAPL" } }));
  const envelope = (flags: number, payload: Uint8Array) => {
    const frame = Buffer.alloc(5 + payload.byteLength);
    frame[0] = flags;
    frame.writeUInt32BE(payload.byteLength, 1);
    frame.set(payload, 5);
    return frame;
  };
  const h2 = http2.createServer();
  h2.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    stream.on("error", () => {});
    stream.resume();
    const ok = { ":status": 200, "content-type": "application/grpc+proto" };
    const withTrailers = (data: Uint8Array, trailers: http2.OutgoingHttpHeaders) => {
      stream.respond(ok, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers(trailers));
      stream.end(data);
    };
    switch (headers["x-answer"]) {
      case "trailers-only":
        return stream.respond({ ...ok, "grpc-status": "7", "grpc-message": "no%20entry" }, { endStream: true });
      case "status-and-message":
        stream.respond({ ...ok, "grpc-status": "7" });
        return stream.end(envelope(0, message));
      case "http-503":
        stream.respond({ ":status": 503 });
        return stream.end();
      case "no-status":
        stream.respond(ok);
        return stream.end(envelope(0, message));
      case "extra-message":
        return withTrailers(Buffer.concat([envelope(0, message), envelope(0, message)]), { "grpc-status": "0" });
      case "compressed":
        return withTrailers(envelope(1, message), { "grpc-status": "0" });
      case "truncated":
        return withTrailers(envelope(0, message).subarray(0, 7), { "grpc-status": "0" });
      case "reset":
        return stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      case "wrong-type":
        stream.respond({ ":status": 200, "content-type": "text/html" });
        return stream.end("<html>");
    }
  });
  await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (s) => void sessions.add(s));
  return {
    url: `http://127.0.0.1:${(h2.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        h2.close(() => resolve());
      }),
  };
}
