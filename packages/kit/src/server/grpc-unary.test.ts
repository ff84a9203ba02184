/**
 * The gRPC unary fast path against connect's generic gRPC handler: two listeners
 * on the same routes, one with the fast path, one without (no unary routes). The
 * same request must get the same answer from both (headers, DATA bytes, trailers
 * with grpc-status-details-bin), the generic handler must not run for the plain
 * case and must answer whatever the fast path hands back. Real gRPC clients
 * (@grpc/grpc-js, the SDK's gRPC transport) read typed errors and deadlines.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as http2 from "node:http2";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Code, ConnectError } from "@connectrpc/connect";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import { Effect, Exit, Scope } from "effect";
import { createMeridianClient, typedErrorOf } from "@meridian/sdk";
import { createNodeTransport } from "@meridian/sdk/node";
import { ErrorInfoSchema } from "@meridian/sdk/common";
import { GetSecurityRequestSchema, GetSecurityResponseSchema } from "../../../../sdk/src/gen/meridian/universe/v1/universe_pb.js";
import { Sector, Universe, UnknownSymbol } from "@meridian/sdk/universe";
import { configureLogging, type LogSink } from "../log.js";
import { RequestContext } from "./call.js";
import { listenGrpc } from "./grpc-listener.js";
import { implement } from "./implement.js";
import { createRoutes, type Routes } from "./routes.js";

const universeProto = fileURLToPath(new URL("../../../../proto/meridian/universe/v1/universe.proto", import.meta.url));
const protoRoot = fileURLToPath(new URL("../../../../proto", import.meta.url));
const getSecurityPath = "/meridian.universe.v1.UniverseService/GetSecurity";
const maxMessageBytes = 1024;

const logged: Array<Record<string, unknown>> = [];
const sink: LogSink = { write: (line) => void logged.push(JSON.parse(line)), flush: () => {} };
const seen = { interrupted: 0 };

const binding = Effect.runSync(
  implement(Universe, {
    getSecurity: (request) =>
      Effect.gen(function* () {
        const context = yield* Effect.service(RequestContext);
        if (request.symbol === "BUG") return yield* Effect.die(new Error("not for the client"));
        if (request.symbol === "SLOW") {
          yield* Effect.sleep("10 seconds").pipe(Effect.onInterrupt(() => Effect.sync(() => seen.interrupted++)));
        }
        if (request.symbol === "BIG") {
          return { security: { symbol: "BIG", name: "x".repeat(2 * maxMessageBytes), sector: Sector.ENERGY, currency: "USD", active: true } };
        }
        context.responseHeader.set("x-served-by", "grpc-unary-test");
        if (request.symbol !== "AAPL") return yield* new UnknownSymbol({ symbol: request.symbol });
        return { security: { symbol: "AAPL", name: "Apple", sector: Sector.TECHNOLOGY, currency: "USD", active: true } };
      }),
    // Answers synchronously (an Exit): the invoker's direct path.
    listSecurities: () => Effect.succeed({ securities: [{ symbol: "KO", name: "Coca-Cola", currency: "USD", active: true }] }),
    upsertSecurity: () => Effect.die("not used"),
  }),
);

/** Calls of the generic handler, by path: the fast path must leave it alone for plain unary gRPC. */
const genericCalls: string[] = [];
const routes = createRoutes([binding], { maxMessageBytes, deadlineCapMs: 5_000 });
const counted: Routes = {
  ...routes,
  handlers: new Map(
    [...routes.handlers].map(([path, handler]): [string, UniversalHandler] => [
      path,
      Object.assign((request: Parameters<UniversalHandler>[0]) => (genericCalls.push(path), handler(request)), handler),
    ]),
  ),
};

let scope: Scope.Closeable;
let fastUrl = "";
let genericUrl = "";

beforeAll(async () => {
  configureLogging({ sink, level: "info" });
  scope = Effect.runSync(Scope.make());
  const listen = (r: Routes) =>
    Effect.runPromise(Scope.provide(scope)(listenGrpc({ host: "127.0.0.1", port: 0, graceMs: 1_000, routes: r })));
  fastUrl = (await listen(counted)).url;
  // The same routes without unary ones: every call takes connect's generic handler.
  genericUrl = (await listen({ ...routes, unary: new Map() })).url;
});

afterAll(async () => {
  for (const session of sessions.values()) session.close();
  await Effect.runPromise(Scope.close(scope, Exit.void));
  configureLogging({ level: "warn" });
});

const sessions = new Map<string, http2.ClientHttp2Session>();
function sessionOf(url: string): http2.ClientHttp2Session {
  let session = sessions.get(url);
  if (session === undefined || session.closed || session.destroyed) {
    session = http2.connect(url);
    session.on("error", () => {});
    sessions.set(url, session);
  }
  return session;
}

interface Answer {
  readonly status: number | undefined;
  readonly headers: Record<string, unknown>;
  readonly data: Buffer;
  readonly trailers: Record<string, unknown>;
}

/** One raw HTTP/2 request: what came back, without the date header. */
function raw(url: string, path: string, body: Uint8Array, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const all: Record<string, string> = { ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", "x-request-id": "same-id", ...headers };
    for (const key of Object.keys(all)) if (all[key] === "") delete all[key]; // "" leaves a header out
    const stream = sessionOf(url).request(all);
    let status: number | undefined;
    let responseHeaders: Record<string, unknown> = {};
    let trailers: Record<string, unknown> = {};
    const data: Buffer[] = [];
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      responseHeaders = clean(h);
    });
    stream.on("trailers", (t) => void (trailers = clean(t)));
    stream.on("data", (chunk: Buffer) => void data.push(chunk));
    stream.on("error", reject);
    stream.on("close", () => resolve({ status, headers: responseHeaders, data: Buffer.concat(data), trailers }));
    stream.end(body);
  });
}

function clean(h: http2.IncomingHttpHeaders): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(h)) if (key !== "date" && key !== ":status") out[key] = value;
  return out;
}

/** A length-prefixed message; `flags` 1 marks it compressed. */
function envelope(message: Uint8Array, flags = 0): Buffer {
  const frame = Buffer.alloc(5 + message.byteLength);
  frame[0] = flags;
  frame.writeUInt32BE(message.byteLength, 1);
  frame.set(message, 5);
  return frame;
}

const getSecurity = (symbol: string) => envelope(toBinary(GetSecurityRequestSchema, create(GetSecurityRequestSchema, { symbol })));

/** Sends the same request to both listeners; the answers must be equal. Returns the fast path's, and whether it fell back. */
async function both(path: string, body: Uint8Array, headers: Record<string, string> = {}): Promise<Answer & { fellBack: boolean }> {
  const before = genericCalls.length;
  const fast = await raw(fastUrl, path, body, headers);
  const fellBack = genericCalls.length > before;
  const generic = await raw(genericUrl, path, body, headers);
  expect(fast).toEqual(generic);
  return { ...fast, fellBack };
}

function statusDetailsOf(answer: Answer) {
  const bin = answer.trailers["grpc-status-details-bin"];
  expect(typeof bin).toBe("string");
  return Buffer.from(String(bin), "base64");
}

describe("gRPC unary fast path, byte for byte as connect's handler", () => {
  test("success: the same headers (handler's included), DATA bytes and trailers; the generic handler does not run", async () => {
    for (const contentType of ["application/grpc", "application/grpc+proto"]) {
      const answer = await both(getSecurityPath, getSecurity("AAPL"), { "content-type": contentType });
      expect(answer.fellBack).toBe(false);
      expect(answer.status).toBe(200);
      expect(answer.headers).toMatchObject({ "content-type": "application/grpc+proto", "x-request-id": "same-id", "x-served-by": "grpc-unary-test" });
      expect(answer.trailers).toEqual({ "grpc-status": "0" });
      expect(answer.data[0]).toBe(0);
      expect(answer.data.readUInt32BE(1)).toBe(answer.data.byteLength - 5);
      expect(fromBinary(GetSecurityResponseSchema, answer.data.subarray(5)).security?.name).toBe("Apple");
    }
    const list = await both("/meridian.universe.v1.UniverseService/ListSecurities", envelope(new Uint8Array(0)));
    expect(list.fellBack).toBe(false);
    expect(list.trailers).toEqual({ "grpc-status": "0" });
    expect(list.data.byteLength).toBeGreaterThan(5);
  });

  test("a typed error: grpc-status, grpc-message and the ErrorInfo details as connect writes them", async () => {
    const answer = await both(getSecurityPath, getSecurity("NO SUCH"));
    expect(answer.fellBack).toBe(false);
    expect(answer.data.byteLength).toBe(0);
    expect(answer.headers["x-served-by"]).toBe("grpc-unary-test"); // set before the failure, still sent
    expect(answer.trailers["grpc-status"]).toBe(String(Code.NotFound));
    expect(String(answer.trailers["grpc-message"])).toContain("NO%20SUCH"); // percent-encoded
    expect(statusDetailsOf(answer).toString("latin1")).toContain("meridian.common.v1.ErrorInfo");
  });

  test("a defect: internal, with the correlation id, details and no cause", async () => {
    const answer = await both(getSecurityPath, getSecurity("BUG"));
    expect(answer.fellBack).toBe(false);
    expect(answer.trailers["grpc-status"]).toBe(String(Code.Internal));
    expect(decodeURIComponent(String(answer.trailers["grpc-message"]))).toBe("internal error (correlation id same-id)");
  });

  test("a request over the size limit: resource_exhausted from its declared length, the rest left unread", async () => {
    const answer = await both(getSecurityPath, getSecurity("A".repeat(2 * maxMessageBytes)));
    expect(answer.fellBack).toBe(false);
    expect(answer.trailers["grpc-status"]).toBe(String(Code.ResourceExhausted));
    expect(decodeURIComponent(String(answer.trailers["grpc-message"]))).toMatch(/^message size \d+ is larger than configured readMaxBytes 1024$/);
  });

  test("a response over the size limit: resource_exhausted", async () => {
    const answer = await both(getSecurityPath, getSecurity("BIG"));
    expect(answer.fellBack).toBe(false);
    expect(answer.data.byteLength).toBe(0);
    expect(answer.trailers["grpc-status"]).toBe(String(Code.ResourceExhausted));
    expect(decodeURIComponent(String(answer.trailers["grpc-message"]))).toMatch(/writeMaxBytes 1024$/);
  });

  test("a body that does not decode: internal, as connect's binary parser says", async () => {
    const answer = await both(getSecurityPath, envelope(Uint8Array.of(0x0a, 0x05, 0x41))); // a string longer than the message
    expect(answer.fellBack).toBe(false);
    expect(answer.trailers["grpc-status"]).toBe(String(Code.Internal));
    expect(decodeURIComponent(String(answer.trailers["grpc-message"]))).toMatch(/^parse binary: /);
  });

  test("what is not one plain message goes to the generic handler, which answers as ever", async () => {
    const message = getSecurity("AAPL");
    const cases: Array<[string, Uint8Array, Record<string, string>]> = [
      ["a truncated prefix", message.subarray(0, 3), {}],
      ["an empty body", new Uint8Array(0), {}],
      ["a truncated message", message.subarray(0, message.byteLength - 1), {}],
      ["the compressed flag without grpc-encoding", envelope(message.subarray(5), 1), {}],
      ["two messages for a unary method", Buffer.concat([message, message]), {}],
    ];
    for (const [name, body, headers] of cases) {
      const answer = await both(getSecurityPath, body, headers);
      expect({ name, fellBack: answer.fellBack }).toEqual({ name, fellBack: true });
      expect({ name, status: answer.trailers["grpc-status"] }).not.toEqual({ name, status: "0" });
    }
  });

  test("compression, a bad grpc-timeout, gRPC-Web and Connect over HTTP/2 are left to the generic handler", async () => {
    const message = getSecurity("AAPL");
    const cases: Array<Record<string, string>> = [
      { "grpc-encoding": "gzip" },
      { "grpc-timeout": "soon" },
      { "content-type": "application/grpc-web+proto" },
      { "content-type": "application/grpc+json" },
    ];
    for (const headers of cases) {
      const answer = await both(getSecurityPath, message, headers);
      expect({ headers, fellBack: answer.fellBack }).toEqual({ headers, fellBack: true });
    }
    const connect = await both(getSecurityPath, message.subarray(5), { "content-type": "application/proto", te: "" });
    expect(connect.fellBack).toBe(true);
    expect(connect.status).toBe(200);
  });

  test("an unknown method: unimplemented, trailers-only", async () => {
    const answer = await both("/meridian.universe.v1.UniverseService/Nope", getSecurity("AAPL"));
    expect(answer.headers["grpc-status"]).toBe(String(Code.Unimplemented));
  });

  test("grpc-timeout is the call's deadline: deadline_exceeded, the handler interrupted", async () => {
    const before = { interrupted: seen.interrupted, generic: genericCalls.length };
    const started = performance.now();
    const answer = await raw(fastUrl, getSecurityPath, getSecurity("SLOW"), { "grpc-timeout": "100m" });
    expect(genericCalls.length).toBe(before.generic);
    expect(answer.trailers["grpc-status"]).toBe(String(Code.DeadlineExceeded));
    expect(performance.now() - started).toBeLessThan(5_000); // not the 5 s cap, nor the handler's 10 s
    await Bun.sleep(20);
    expect(seen.interrupted).toBe(before.interrupted + 1);
  });

  test("a client that resets the stream interrupts the handler", async () => {
    const before = seen.interrupted;
    const stream = sessionOf(fastUrl).request({ ":method": "POST", ":path": getSecurityPath, "content-type": "application/grpc", te: "trailers" });
    stream.on("error", () => {});
    stream.end(getSecurity("SLOW"));
    await Bun.sleep(100);
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await Bun.sleep(100);
    expect(seen.interrupted).toBe(before + 1);
  });

  test("the access log and metrics see a fast-path call as gRPC, with its code", async () => {
    await raw(fastUrl, getSecurityPath, getSecurity("NOPE"), { "x-request-id": "logged-1" });
    await Bun.sleep(20);
    const line = logged.find((l) => l.message === "rpc" && l.correlation_id === "logged-1");
    expect(line).toMatchObject({ method: "meridian.universe.v1.UniverseService/GetSecurity", protocol: "grpc", code: "not_found", http_status: 200 });
    expect(String(line?.peer)).toMatch(/^127\.0\.0\.1:\d+$/);
  });
});

describe("gRPC clients through the fast path", () => {
  type Callback = (error: grpc.ServiceError | null, response?: { security?: { name?: string } }) => void;
  type Stub = grpc.Client & { GetSecurity(request: object, metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback): void };
  let client: Stub;
  beforeAll(() => {
    const definition = protoLoader.loadSync(universeProto, { includeDirs: [protoRoot], keepCase: true, enums: String, defaults: true });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      meridian: { universe: { v1: { UniverseService: new (address: string, credentials: grpc.ChannelCredentials) => Stub } } };
    };
    client = new loaded.meridian.universe.v1.UniverseService(new URL(fastUrl).host, grpc.credentials.createInsecure());
  });
  afterAll(() => client?.close());

  const call = (symbol: string, options: grpc.CallOptions = {}) =>
    new Promise<{ error?: grpc.ServiceError; name?: string }>((resolve) =>
      client.GetSecurity({ symbol }, new grpc.Metadata(), options, (error, response) =>
        resolve(error === null ? { name: response?.security?.name } : { error }),
      ),
    );

  test("@grpc/grpc-js: a response, a typed error with its ErrorInfo, a deadline", async () => {
    const before = genericCalls.length;
    expect(await call("AAPL")).toEqual({ name: "Apple" });
    const { error } = await call("NOPE");
    expect(error?.code).toBe(grpc.status.NOT_FOUND);
    const [bin] = error!.metadata.get("grpc-status-details-bin");
    expect(Buffer.from(bin as Buffer).toString("latin1")).toContain("UnknownSymbol");
    const slow = await call("SLOW", { deadline: Date.now() + 100 });
    expect(slow.error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(genericCalls.length).toBe(before);
  });

  test("the SDK's gRPC transport: a response, a typed error with details, a deadline", async () => {
    const universe = createMeridianClient(Universe, { transport: createNodeTransport({ baseUrl: fastUrl, protocol: "grpc" }) });
    const before = genericCalls.length;
    let servedBy = null as string | null;
    const { security } = await universe.getSecurity({ symbol: "AAPL" }, { onHeader: (h) => void (servedBy = h.get("x-served-by")) });
    expect(security?.name).toBe("Apple");
    expect(servedBy).toBe("grpc-unary-test");
    const error = await universe.getSecurity({ symbol: "NOPE" }).then(
      () => expect.unreachable(),
      (e: unknown) => ConnectError.from(e),
    );
    expect(error.code).toBe(Code.NotFound);
    expect(error.findDetails(ErrorInfoSchema)[0]).toMatchObject({ reason: "UnknownSymbol", domain: "universe", metadata: { symbol: "NOPE" } });
    expect(typedErrorOf(Universe, error)._tag).toBe("UnknownSymbol");
    const slow = await universe.getSecurity({ symbol: "SLOW" }, { timeoutMs: 100 }).then(
      () => expect.unreachable(),
      (e: unknown) => ConnectError.from(e),
    );
    expect(slow.code).toBe(Code.DeadlineExceeded);
    expect(genericCalls.length).toBe(before);
  });
});
