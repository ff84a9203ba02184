/**
 * The universe process's life: ready while it runs, drains every accepted
 * request when SIGTERM arrives under load and exits 0, and refuses to start,
 * with one clear fatal line, when its configuration or database is bad.
 */
import * as http2 from "node:http2";
import { connect, createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ConnectError } from "@connectrpc/connect";
import { createMeridianClient, createNodeTransport } from "@meridian/sdk/node";
import { Universe } from "@meridian/sdk/universe";
import { runServiceToExit, type LogLine, type RunningService } from "@meridian/kit/testing";
import { databases, postgresDatabase, type TestDatabase } from "@meridian/kit/testing";
import { repoRoot, startUniverse, universeEntry } from "./universe-process.js";

const getSecurity = "meridian.universe.v1.UniverseService/GetSecurity";

/** How one request of the load ended. */
type Outcome =
  | { readonly kind: "ok"; readonly afterSigterm: boolean }
  /** Could not connect: the listener was closed. Allowed. */
  | { readonly kind: "refused" }
  /** Sent (or meant to be), then failed, reset or answered not OK. */
  | { readonly kind: "failed"; readonly afterSigterm: boolean; readonly error: string };

const isConnectionRefused = (e: unknown): boolean =>
  (e as { code?: unknown }).code === "ECONNREFUSED" ||
  (e instanceof ConnectError && (e.cause as { code?: unknown } | undefined)?.code === "ECONNREFUSED");

/** Loops `call` (given a fresh request id each time) until `done()`, recording every outcome by id. */
async function loop(
  name: string,
  call: (requestId: string) => Promise<void>,
  outcomes: Map<string, Outcome>,
  done: () => boolean,
  sigtermSent: () => boolean,
): Promise<void> {
  for (let i = 0; !done(); i += 1) {
    const id = `${name}-${i}`;
    try {
      await call(id);
      outcomes.set(id, { kind: "ok", afterSigterm: sigtermSent() });
    } catch (e) {
      if (isConnectionRefused(e)) {
        outcomes.set(id, { kind: "refused" });
      } else {
        const error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
        outcomes.set(id, { kind: "failed", afterSigterm: sigtermSent(), error });
      }
      // Some failures come back without any I/O: back off, or this loop would starve the event loop.
      await Bun.sleep(5);
    }
  }
}

/** `promise`, or a rejection naming `what` after `ms`. */
function within<A>(ms: number, promise: Promise<A>, what: string): Promise<A> {
  return Promise.race([promise, Bun.sleep(ms).then(() => Promise.reject(new Error(`no ${what} within ${ms} ms`)))]);
}

/**
 * A Connect call over a raw HTTP/1.1 connection, proven accepted (the server answered
 * `100 Continue`, which Bun does once it has read the headers and called the handler) but
 * held: it cannot be answered until `finish()` sends the rest of its body.
 */
async function heldHttpCall(httpUrl: string, requestId: string): Promise<{ finish: () => Promise<string> }> {
  const { hostname, port } = new URL(httpUrl);
  const body = '{"symbol":"AAPL"}';
  const socket = connect({ host: hostname, port: Number(port) });
  let received = "";
  const ended = new Promise<string>((resolve) => {
    socket.on("error", (e) => {
      received += `\n[${e.message}]`;
    });
    socket.once("close", () => resolve(received));
  });
  let onData = () => {};
  socket.on("data", (chunk: Buffer) => {
    received += chunk.toString("utf8");
    onData();
  });
  const continued = new Promise<void>((resolve, reject) => {
    onData = () => received.includes("100 Continue") && resolve();
    void ended.then(() => reject(new Error(`held call closed before 100 Continue: ${received}`)));
  });
  socket.write(
    `POST /${getSecurity} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\nx-request-id: ${requestId}\r\n\r\n`,
  );
  await within(10_000, continued, "100 Continue");
  socket.write(body.slice(0, 5));
  return {
    finish: async () => {
      socket.write(body.slice(5));
      return (await ended).replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, "");
    },
  };
}

/**
 * The same over gRPC (HTTP/2): the stream is open with half its message sent, and proven
 * received (a PING sent after it came back, and HTTP/2 frames are handled in order).
 * `finish()` resolves with the call's grpc-status.
 */
async function heldGrpcCall(grpcUrl: string, requestId: string): Promise<{ finish: () => Promise<string> }> {
  const session = http2.connect(grpcUrl);
  session.on("error", () => {});
  await within(10_000, new Promise<void>((resolve) => session.once("remoteSettings", () => resolve())), "HTTP/2 settings");
  const stream = session.request({
    ":method": "POST",
    ":path": `/${getSecurity}`,
    "content-type": "application/grpc",
    te: "trailers",
    "x-request-id": requestId,
  });
  const message = Buffer.from([0x0a, 0x04, ...Buffer.from("MSFT")]); // GetSecurityRequest{symbol: "MSFT"}
  const envelope = Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);
  let status = "no grpc-status";
  stream.on("error", (e) => {
    status = `[${e.message}]`;
  });
  stream.on("response", (headers) => {
    if (headers["grpc-status"] !== undefined) status = String(headers["grpc-status"]);
  });
  stream.on("trailers", (trailers) => {
    status = String(trailers["grpc-status"]);
  });
  stream.on("data", () => {});
  const ended = new Promise<string>((resolve) =>
    stream.once("close", () => {
      session.close();
      resolve(status);
    }),
  );
  stream.write(envelope.subarray(0, 3));
  await within(10_000, new Promise<void>((resolve, reject) => session.ping((error) => (error ? reject(error) : resolve()))), "PING ack");
  return {
    finish: () => {
      stream.end(envelope.subarray(3));
      return ended;
    },
  };
}

/** A steady load on GetSecurity: 16 loops over keep-alive HTTP/1.1, 4 over gRPC, until stopped. */
interface Load {
  readonly outcomes: Map<string, Outcome>;
  sigtermSent: boolean;
  /** Ends every loop and waits for them. */
  readonly stop: () => Promise<void>;
}

function startLoad(service: RunningService): Load {
  const outcomes = new Map<string, Outcome>();
  let stopped = false;
  const overHttp = async (requestId: string) => {
    const response = await fetch(`${service.httpUrl}/${getSecurity}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": requestId },
      body: '{"symbol":"AAPL"}',
      signal: AbortSignal.timeout(15_000),
    });
    const body = await response.text();
    if (response.status !== 200 || !body.includes('"Apple Inc."')) throw new Error(`HTTP ${response.status}: ${body.slice(0, 200)}`);
  };
  const grpcClient = createMeridianClient(Universe, {
    transport: createNodeTransport({ baseUrl: service.grpcUrl, protocol: "grpc", defaultTimeoutMs: 15_000 }),
  });
  const overGrpc = async (requestId: string) => {
    const response = await grpcClient.getSecurity({ symbol: "MSFT" }, { headers: { "x-request-id": requestId } });
    if (response.security?.name !== "Microsoft Corp.") throw new Error(`gRPC: unexpected ${JSON.stringify(response)}`);
  };
  const load: Load = {
    outcomes,
    sigtermSent: false,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
  const done = () => stopped;
  const loops = [
    ...Array.from({ length: 16 }, (_, n) => loop(`http${n}`, overHttp, outcomes, done, () => load.sigtermSent)),
    ...Array.from({ length: 4 }, (_, n) => loop(`grpc${n}`, overGrpc, outcomes, done, () => load.sigtermSent)),
  ];
  return load;
}

for (const { name, create } of databases) {
  describe(`universe shutdown (${name})`, () => {
    let database: TestDatabase;
    let service: RunningService;
    beforeAll(async () => {
      database = await create();
      service = await startUniverse(database, { SHUTDOWN_GRACE_MS: "10000" });
    }, 90_000);
    afterAll(async () => {
      await service?.stop();
      await database?.drop();
    }, 30_000);

    test("/readyz is 200 with postgres up while running; /healthz is 200", async () => {
      const ready = await fetch(`${service.httpUrl}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({
        status: "healthy",
        service: "universe",
        lifecycle: "running",
        dependencies: { postgres: { status: "up", required: true } },
      });
      const live = await fetch(`${service.httpUrl}/healthz`);
      expect(live.status).toBe(200);
      expect(((await live.json()) as { status: string }).status).toBe("healthy");
    });

    test("SIGTERM under load: every accepted request is answered OK, then the process exits 0", async () => {
      const load = startLoad(service);
      try {
        await sigtermUnderLoad(load);
      } finally {
        await load.stop();
      }
    }, 60_000);

    async function sigtermUnderLoad(load: Load): Promise<void> {
      const { outcomes } = load;
      // Let the load settle, then pull the plug mid-flight.
      const okCount = () => [...outcomes.values()].filter((o) => o.kind === "ok").length;
      while (okCount() < 300 && outcomes.size < 5000) await Bun.sleep(10);
      // Calls the server has accepted but cannot finish until their bodies arrive, after the signal.
      const held = [
        await heldHttpCall(service.httpUrl, "held-http-0"),
        await heldHttpCall(service.httpUrl, "held-http-1"),
        await heldGrpcCall(service.grpcUrl, "held-grpc-0"),
      ];
      load.sigtermSent = true;
      service.signal("SIGTERM");

      // Readiness turns false at once, while the HTTP listener may still answer.
      await service.waitForLog((l) => l.message === "shutting down");
      await Bun.sleep(100);
      expect(service.isRunning()).toBe(true); // draining, waiting for the held calls
      const [http0, http1, grpc0] = await Promise.all(
        held.map((call) => Promise.race([call.finish(), Bun.sleep(15_000).then(() => "no answer in 15 s")])),
      );
      expect(http0).toStartWith("HTTP/1.1 200");
      expect(http0).toContain("Apple Inc.");
      expect(http1).toStartWith("HTTP/1.1 200");
      expect(grpc0).toBe("0");
      const ready = await fetch(`${service.httpUrl}/readyz`).then(
        async (r) => ({ status: r.status, lifecycle: ((await r.json()) as { lifecycle: string }).lifecycle }),
        (e: unknown) => (e instanceof Error ? e.message : String(e)),
      );
      if (typeof ready !== "string") expect(ready).toEqual({ status: 503, lifecycle: "stopping" });

      const exitCode = await Promise.race([service.exited, Bun.sleep(20_000).then(() => "still running")]);
      // A little more load after the exit, so requests meet the closed listeners too.
      await Bun.sleep(200);
      await load.stop();
      expect(exitCode).toBe(0);

      // What the server accepted: every call that reached it has its access-log line, written when
      // its response ended and flushed before exit.
      const accepted = new Map(
        service.logs().filter((l) => l.message === "rpc" && typeof l.correlation_id === "string").map((l) => [l.correlation_id as string, l]),
      );
      const all = [...outcomes.entries()];
      const ok = all.filter(([, o]) => o.kind === "ok");
      const refused = all.filter(([, o]) => o.kind === "refused");
      const failed = all.filter(([, o]) => o.kind === "failed") as Array<[string, Extract<Outcome, { kind: "failed" }>]>;
      // An accepted request that failed is a dropped request: never allowed.
      const dropped = failed.filter(([id]) => accepted.has(id)).map(([id, o]) => `${id}: ${o.error}`);
      expect(dropped).toEqual([]);
      // No request failed before the signal, and none the server saw ended other than OK.
      expect(failed.filter(([, o]) => !o.afterSigterm).map(([id, o]) => `${id}: ${o.error}`)).toEqual([]);
      expect([...accepted.values()].filter((l) => l.code !== "ok")).toEqual([]);
      expect(ok.filter(([id]) => !accepted.has(id)).map(([id]) => id)).toEqual([]);
      // Requests were in flight when the signal came, and they were answered.
      expect(ok.filter(([, o]) => o.kind === "ok" && o.afterSigterm).length).toBeGreaterThan(0);
      expect(ok.length).toBeGreaterThanOrEqual(300);

      const messages = service.logs().map((l) => l.message);
      const shuttingDown = messages.indexOf("shutting down");
      expect(shuttingDown).toBeGreaterThan(messages.indexOf("listening"));
      expect(messages.indexOf("stopped")).toBeGreaterThan(shuttingDown);
      // Drained, not cut: nothing needed the grace period, nothing failed on the server.
      expect(service.logs().filter((l) => l.level === "warn" || l.level === "error" || l.level === "fatal")).toEqual([]);

      // Not accepted: never read by the server (a keep-alive connection closed as the request crossed
      // it) or never sent (the client saw GOAWAY, or its breaker opened). Allowed, but counted.
      const unread = failed.map(([, o]) => o.error.replace(/ For more information.*$/, ""));
      const kinds = [...new Set(unread)].map((error) => `${unread.filter((e) => e === error).length}× ${error}`);
      console.info(
        `shutdown under load (${name}): ${ok.length} ok (${ok.filter(([, o]) => o.kind === "ok" && o.afterSigterm).length} after SIGTERM), ` +
          `${refused.length} refused, ${failed.length} failed but never reached the server${kinds.length > 0 ? `: ${kinds.join("; ")}` : ""}`,
      );
    }
  });
}

describe("universe start-up failures", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await postgresDatabase();
  });
  afterAll(() => database?.drop());

  const start = (env: Record<string, string | undefined>) =>
    runServiceToExit({ entry: universeEntry, cwd: repoRoot, env: { ...database.env, ...env }, timeoutMs: 30_000 });
  const fatalLines = (logs: ReadonlyArray<LogLine>) => logs.filter((l) => l.level === "fatal");

  for (const [variable, value] of [
    ["HTTP_PORT", "abc"],
    ["GRPC_PORT", "70000"],
    ["SHUTDOWN_GRACE_MS", "-5"],
    ["LOG_LEVEL", "loud"],
  ] as const) {
    test(`${variable}=${value}: exits non-zero with one fatal line naming ${variable}`, async () => {
      const result = await start({ [variable]: value });
      expect(result.exitCode).not.toBe(0);
      expect(result.logs.some((l) => l.message === "listening")).toBe(false);
      const fatal = fatalLines(result.logs);
      expect(fatal).toHaveLength(1);
      expect(String(fatal[0]?.message)).toContain(variable);
      expect(result.output).not.toContain("    at "); // a message, not a stack trace
    });
  }

  test("HTTP_PORT already taken: exits non-zero with one fatal line naming HTTP_PORT", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const result = await start({ HTTP_PORT: String(port) });
      expect(result.exitCode).not.toBe(0);
      const fatal = fatalLines(result.logs);
      expect(fatal).toHaveLength(1);
      expect(String(fatal[0]?.message)).toContain("HTTP_PORT");
      expect(String(fatal[0]?.message)).toContain(String(port));
    } finally {
      blocker.close();
    }
  });

  test("DATABASE_URL at a closed port: exits non-zero with one fatal line, never the password", async () => {
    const password = "s3cret-Pa55word";
    const result = await start({ DATABASE_URL: `postgres://meridian:${password}@127.0.0.1:1/universe` });
    expect(result.exitCode).not.toBe(0);
    expect(result.logs.some((l) => l.message === "listening")).toBe(false);
    const fatal = fatalLines(result.logs);
    expect(fatal).toHaveLength(1);
    expect(String(fatal[0]?.message)).toContain("127.0.0.1:1");
    expect(String(fatal[0]?.message)).toMatch(/postgres/i);
    expect(result.output).not.toContain(password);
    expect(result.output).not.toContain(encodeURIComponent(password));
  });

  test("an unparsable DATABASE_URL never prints it", async () => {
    const password = "pa:ss@word%zz";
    const result = await start({ DATABASE_URL: `postgres://meridian:${password}@[::1/universe` });
    expect(result.exitCode).not.toBe(0);
    expect(fatalLines(result.logs)).toHaveLength(1);
    expect(result.output).not.toContain("ss@word");
  });
});
