/**
 * The policies on server streams, against real kit servers on loopback: a
 * stream is retried only before its first message (and only when safe to send
 * twice, within the budget); it holds a bulkhead slot for its whole life.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { Effect, Layer, ManagedRuntime, Stream } from "effect";
import {
  createFetchTransport,
  createMeridianClient,
  createResilientTransport,
  type EffectClient,
  type PolicyOptions,
} from "@meridian/sdk";
import { Sector } from "@meridian/sdk/universe";
import { Ticker } from "../../../../sdk/src/test-fixtures/ticker-service.js";
import { Unavailable } from "../errors.js";
import { implement } from "../server/implement.js";
import { layerLocalServices } from "./local.js";
import { layerClient, ServiceClient } from "./locator.js";
import { clientState } from "./state.js";
import { Faults, startServer, type TestServer } from "./test-servers.js";

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const security = (n: number) => ({ symbol: `S${n}`, name: "tick", sector: Sector.ENERGY, currency: "USD", active: true });

/** How many streams the handler has started (each attempt that got past the faults). */
const started = { count: 0 };

/**
 * The ticker's one method, by `currency`: "" sends S0, S1, S2 and ends;
 * "FAIL_AFTER_FIRST" sends S0 then fails with unavailable; "HOLD" sends S0
 * then waits until the client goes away.
 */
const ticker = implement(Ticker, {
  watchSecurities: (request) => {
    started.count++;
    if (request.currency === "FAIL_AFTER_FIRST") {
      return Stream.concat(Stream.make(security(0)), Stream.fail(new Unavailable({ reason: "lost the feed" })));
    }
    if (request.currency === "HOLD") return Stream.concat(Stream.make(security(0)), Stream.never);
    return Stream.make(security(0), security(1), security(2));
  },
});

async function server(faults?: Faults): Promise<TestServer> {
  const running = await startServer([ticker], faults === undefined ? {} : { faults });
  cleanups.push(running.stop);
  return running;
}

/** The locator's client of the ticker, remote at `url`, or in-process (with the faults on the binding) when `url` is undefined. */
async function tickerClient(url: string | undefined, policy: PolicyOptions, faults?: Faults): Promise<EffectClient<typeof Ticker>> {
  const local =
    url === undefined
      ? layerLocalServices([faults === undefined ? ticker : Effect.map(ticker, (b) => faults.binding(b))])
      : Layer.empty;
  const runtime = ManagedRuntime.make(
    layerClient(Ticker, { name: "ticker", policy, env: url === undefined ? {} : { MERIDIAN_TICKER_URL: url } }).pipe(
      Layer.provide(local),
    ),
  );
  cleanups.push(() => runtime.dispose());
  return runtime.runPromise(Effect.service(ServiceClient(Ticker)));
}

const symbolsOf = (stream: Stream.Stream<{ symbol: string }, unknown>) =>
  Effect.runPromise(Stream.runCollect(stream).pipe(Effect.map((all) => all.map((s) => s.symbol))));

const keyed = (key: string) => ({ headers: { "idempotency-key": key } });
const fast: PolicyOptions = { retry: { baseDelayMs: 1 } };

for (const mode of ["remote", "local"] as const) {
  describe(`server stream retries (${mode})`, () => {
    test("a stream that fails before its first message is retried when it may be sent twice, and not otherwise", async () => {
      const faults = new Faults({ pattern: "x.", code: Code.Unavailable });
      const url = mode === "remote" ? (await server(faults)).httpUrl : undefined;
      const client = await tickerClient(url, fast, faults);

      expect(await symbolsOf(client.watchSecurities({}, keyed("watch-1")))).toEqual(["S0", "S1", "S2"]);
      expect(faults.calls.map((c) => c.fault)).toEqual(["fail", "pass"]);

      // No idempotency key, and the method declares none: sent once, the failure is the caller's.
      faults.set({ pattern: "x.", code: Code.Unavailable });
      const error = await Effect.runPromise(Effect.flip(Stream.runDrain(client.watchSecurities({}))));
      expect(error._tag).toBe("Unavailable");
      expect(faults.calls.map((c) => c.fault)).toEqual(["fail", "pass", "fail"]);
      // Every stream ended: its bulkhead slot and its endpoint's load went back.
      expect(clientState(client)?.bulkhead).toEqual({ active: 0, queued: 0 });
      expect(clientState(client)?.endpoints[0]?.outstanding).toBe(0);
    });

    test("once a message has come, a failure reaches the caller after it: no retry, no duplicate", async () => {
      const url = mode === "remote" ? (await server()).httpUrl : undefined;
      const client = await tickerClient(url, fast);
      const before = started.count;
      const received: string[] = [];
      const error = await Effect.runPromise(
        Effect.flip(Stream.runForEach(client.watchSecurities({ currency: "FAIL_AFTER_FIRST" }, keyed("watch-2")), (s) =>
          Effect.sync(() => void received.push(s.symbol)),
        )),
      );
      expect(received).toEqual(["S0"]);
      expect(clientState(client)?.bulkhead).toEqual({ active: 0, queued: 0 });
      expect(error._tag).toBe("Unavailable");
      expect(started.count - before).toBe(1);
    });

    test("a stream's retries spend the downstream's retry budget", async () => {
      const faults = new Faults({ pattern: "x.", code: Code.Unavailable });
      const url = mode === "remote" ? (await server(faults)).httpUrl : undefined;
      const client = await tickerClient(url, { ...fast, retryBudget: { ratio: 0, reserve: 0 } }, faults);
      const error = await Effect.runPromise(Effect.flip(Stream.runDrain(client.watchSecurities({}, keyed("watch-3")))));
      expect(error._tag).toBe("Unavailable");
      expect(faults.calls).toHaveLength(1);
    });
  });
}

describe("server streams and the bulkhead", () => {
  test("a stream holds its slot until it ends: meanwhile the next call is refused with BulkheadFull", async () => {
    const { httpUrl } = await server();
    const transport = createResilientTransport({
      downstream: "ticker",
      endpoints: [{ url: httpUrl, transport: createFetchTransport({ baseUrl: httpUrl, useBinaryFormat: true }) }],
      policy: { bulkhead: { maxConcurrent: 1, maxQueue: 0 } },
    });
    const client = createMeridianClient(Ticker, { transport });

    const holding = new AbortController();
    const open = client.watchSecurities({ currency: "HOLD" }, { signal: holding.signal })[Symbol.asyncIterator]();
    expect((await open.next()).value?.symbol).toBe("S0");
    expect(transport.state().bulkhead).toEqual({ active: 1, queued: 0 });

    const refused = await Array.fromAsync(client.watchSecurities({})).catch((e: unknown) => ConnectError.from(e));
    expect(refused).toBeInstanceOf(ConnectError);
    expect((refused as ConnectError).rawMessage).toBe("bulkhead full for ticker");

    holding.abort(); // the caller gives the stream up: its slot goes back
    expect(transport.state().bulkhead).toEqual({ active: 0, queued: 0 });
    const after = await Array.fromAsync(client.watchSecurities({}));
    expect(after.map((s) => s.symbol)).toEqual(["S0", "S1", "S2"]);
    expect(transport.state().bulkhead).toEqual({ active: 0, queued: 0 });
  });

  test("a queued stream starts when the one ahead of it ends", async () => {
    const { httpUrl } = await server();
    const transport = createResilientTransport({
      downstream: "ticker",
      endpoints: [{ url: httpUrl, transport: createFetchTransport({ baseUrl: httpUrl, useBinaryFormat: true }) }],
      policy: { bulkhead: { maxConcurrent: 1, maxQueue: 1 } },
    });
    const client = createMeridianClient(Ticker, { transport });
    const holding = new AbortController();
    const first = client.watchSecurities({ currency: "HOLD" }, { signal: holding.signal })[Symbol.asyncIterator]();
    await first.next();
    const queued = Array.fromAsync(client.watchSecurities({}));
    await Bun.sleep(20);
    expect(transport.state().bulkhead).toEqual({ active: 1, queued: 1 });
    holding.abort(); // the caller gives the stream up: the slot goes to the queued stream
    expect((await queued).map((s) => s.symbol)).toEqual(["S0", "S1", "S2"]);
    expect(transport.state().bulkhead).toEqual({ active: 0, queued: 0 });
  });
});
