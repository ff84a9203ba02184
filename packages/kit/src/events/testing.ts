/**
 * Faults for tests of the event machinery: a stream store that loses acknowledgements (a consumer
 * killed between commit and ack), appends some entries twice (a relay republishing), and can be
 * swapped for an empty one (an in-process bus whose process restarted); a TCP proxy to cut a
 * database connection as a restart would. Tests only.
 */
import { connect, createServer, type Socket } from "node:net";
import { create, type Message } from "@bufbuild/protobuf";
import { OrderFilledSchema, OrderSide, type OrderFilled } from "../../../../sdk/src/gen/meridian/trading/v1/events_pb.js";
import type { StreamBackend } from "./backend.js";
import type { ReceivedEvent } from "./envelope.js";
import type { EventType } from "./topic.js";

/** What goes wrong, and how often (0 to 1). */
export interface Faults {
  /** Share of acknowledgements silently dropped. */
  dropAckRate: number;
  /** Share of appends written twice. */
  duplicateAppendRate: number;
}

/** A store delegating to `current()`, with faults; `faults` may be changed while it runs. */
export function faultyBackend(current: () => StreamBackend, faults: Faults): StreamBackend {
  const chance = (rate: number) => rate > 0 && Math.random() < rate;
  return {
    append: async (stream, envelopes, options) => {
      const result = await current().append(stream, envelopes, options);
      const again = envelopes.slice(0, result.streamIds.length).filter(() => chance(faults.duplicateAppendRate));
      if (again.length > 0) await current().append(stream, again, options);
      return result;
    },
    ensureGroup: (...args) => current().ensureGroup(...args),
    openReader: async () => {
      // Readers follow the store when it is swapped, like a reconnecting client.
      let store = current();
      let reader = await store.openReader();
      return {
        readNew: async (...args) => {
          if (store !== current()) {
            reader.close();
            store = current();
            reader = await store.openReader();
          }
          return reader.readNew(...args);
        },
        readAfter: async (...args) => {
          if (store !== current()) {
            reader.close();
            store = current();
            reader = await store.openReader();
          }
          return reader.readAfter(...args);
        },
        close: () => reader.close(),
      };
    },
    claimStale: (...args) => current().claimStale(...args),
    lastId: (...args) => current().lastId(...args),
    claim: (...args) => current().claim(...args),
    release: (...args) => current().release(...args),
    touch: (...args) => current().touch(...args),
    ack: async (stream, group, ids) => {
      const kept = ids.filter(() => !chance(faults.dropAckRate));
      if (kept.length > 0) await current().ack(stream, group, kept);
    },
    deadLetter: (...args) => current().deadLetter(...args),
    readDeadLetters: (...args) => current().readDeadLetters(...args),
    consumption: (...args) => current().consumption(...args),
    setMarker: (...args) => current().setMarker(...args),
  };
}

/** A TCP proxy a test can cut (every connection dropped, new ones refused) and restore. */
export interface TcpProxy {
  readonly port: number;
  /** Like a server restart: open connections are reset and new ones refused until `restore`. */
  readonly cut: () => void;
  readonly restore: () => void;
  readonly close: () => Promise<void>;
}

/** Starts a proxy on a free local port to `host:port`. */
export async function startTcpProxy(host: string, port: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let accepting = true;
  const server = createServer((client) => {
    if (!accepting) {
      client.destroy();
      return;
    }
    const upstream = connect(port, host);
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      socket.on("error", drop);
      socket.on("close", drop);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    cut: () => {
      accepting = false;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    restore: () => {
      accepting = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A realistic OrderFilled for tests and benchmarks: order, fill and ids numbered n. */
export function sampleFill(n: number, accountId = "acc-1"): OrderFilled {
  return create(OrderFilledSchema, {
    orderId: `o-${n}`,
    accountId,
    symbol: "AAPL",
    side: OrderSide.BUY,
    fillId: `f-${n}`,
    quantity: 10n,
    priceMicros: 187_250_000n,
    currency: "USD",
    grossAmountMinor: 187_250n,
  });
}

/**
 * An event as a consumer's handler receives it, for calling a handler directly: a fresh id, now,
 * a first delivery; `fields` set the rest (group, correlation id, stream id…).
 */
export function receivedEvent<A extends Message>(event: EventType<A>, payload: A, fields: Partial<ReceivedEvent<A>> = {}): ReceivedEvent<A> {
  return {
    id: Bun.randomUUIDv7(),
    type: event.schema.typeName,
    source: "trading",
    time: new Date(),
    traceparent: "",
    tracestate: "",
    correlationId: "",
    payload,
    topic: event.topic,
    group: "",
    deliveries: 1,
    streamId: "0-1",
    ...fields,
  };
}
