/**
 * Fills as trading publishes them, for tests: OrderFilled payloads and a producer that writes
 * them through a real kit outbox (schema "trading" of the test database) with its relay.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Effect, Layer, ManagedRuntime } from "effect";
import type postgres from "postgres";
import { layerOutbox, layerOutboxRelay, Outbox, type EventBus, type EventMeta } from "@meridian/kit/events";
import { layerSql, Sql } from "@meridian/kit/postgres";
import { OrderFilledSchema, OrderSide, type OrderFilled } from "@meridian/sdk/trading";
import { OrderFilledEvent } from "../src/events.js";

/** A fill of `quantity` shares at `priceMicros`; gross rounded half up here (trading's number, taken as given). */
export function orderFilled(fields: {
  accountId: string;
  fillId: string;
  symbol?: string;
  side: "buy" | "sell";
  quantity: bigint;
  priceMicros: bigint;
  feeMinor?: bigint;
  filledAt?: Date;
  currency?: string;
}): OrderFilled {
  return create(OrderFilledSchema, {
    orderId: `o-${fields.fillId}`,
    accountId: fields.accountId,
    symbol: fields.symbol ?? "AAPL",
    side: fields.side === "buy" ? OrderSide.BUY : OrderSide.SELL,
    fillId: fields.fillId,
    quantity: fields.quantity,
    priceMicros: fields.priceMicros,
    currency: fields.currency ?? "USD",
    grossAmountMinor: (fields.quantity * fields.priceMicros + 5_000n) / 10_000n,
    feeMinor: fields.feeMinor ?? 0n,
    remainingQuantity: 0n,
    filledAt: timestampFromDate(fields.filledAt ?? new Date()),
  });
}

/** Trading's side of the path: an outbox in schema "trading" and its relay to the bus. */
export interface FillProducer {
  /** Writes the fills through the outbox, `perTransaction` at a time, each with `metaOf(fill)` if given. */
  readonly write: (fills: ReadonlyArray<OrderFilled>, perTransaction?: number, metaOf?: (fill: OrderFilled) => EventMeta) => Promise<void>;
  /** Rows the relay has not yet published. */
  readonly unsent: () => Promise<number>;
  readonly sql: postgres.Sql;
  readonly dispose: () => Promise<void>;
}

/** Starts the producer on `databaseUrl` publishing to `bus`. */
export async function startFillProducer(databaseUrl: string, bus: Layer.Layer<EventBus>): Promise<FillProducer> {
  // The outbox Layer creates the event tables before the first write, as a producing service's does.
  const runtime = ManagedRuntime.make(
    Layer.merge(layerOutboxRelay({ pollIntervalMs: 20 }), layerOutbox({ source: "trading" })).pipe(
      Layer.provideMerge(layerSql({ url: databaseUrl, schema: "trading", maxConnections: 2 })),
      Layer.provide(bus),
    ),
  );
  const [sql, outbox] = await runtime.runPromise(Effect.all([Effect.service(Sql), Effect.service(Outbox)]));
  return {
    sql,
    write: async (fills, perTransaction = 50, metaOf) => {
      for (let i = 0; i < fills.length; i += perTransaction) {
        await sql.begin(async (tx) => {
          for (const fill of fills.slice(i, i + perTransaction)) await outbox.write(tx, OrderFilledEvent, fill, metaOf?.(fill));
        });
      }
    },
    unsent: async () => {
      const [row] = await sql<{ n: string }[]>`select count(*)::text as n from meridian_outbox where sent_at is null`;
      return Number(row?.n ?? 0);
    },
    dispose: () => runtime.dispose(),
  };
}

/** Polls `check` every 50 ms until it is true or `timeoutMs` passes (then throws, naming `what`). */
export async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
