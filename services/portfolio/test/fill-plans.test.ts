/**
 * The reads of a batch of fills go by key however small the tables were when PostgreSQL settled
 * on their plans: a plan made on a nearly empty table is kept as the table grows (until an
 * ANALYZE), and a scan of the whole ledger per batch would grow with it.
 */
import { afterAll, expect, test } from "bun:test";
import { Effect, Layer } from "effect";
import { layerOutbox, Outbox } from "@meridian/kit/events";
import { layerSql, migrate, Sql } from "@meridian/kit/postgres";
import { cachedPlans, postgresDatabase, receivedEvent } from "@meridian/kit/testing";
import type { OrderFilled } from "@meridian/sdk/trading";
import { OrderFilledEvent } from "../src/events.js";
import { applyFills } from "../src/fills.js";
import { migrationsDir, name } from "../src/service.js";
import { orderFilled } from "./fills-fixture.js";

const database = await postgresDatabase();
afterAll(() => database.drop());

const received = (payload: OrderFilled) => receivedEvent(OrderFilledEvent, payload, { group: name, correlationId: `c-${payload.fillId}` });

test("a batch of fills reads the ledger and the positions by key, with plans made while both were nearly empty", async () => {
  const result = await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const sql = yield* Sql;
        const outbox = yield* Outbox;
        yield* migrate(migrationsDir);
        const openAccounts = (count: number) =>
          Effect.promise(async () => {
            const ids = Array.from({ length: count }, () => crypto.randomUUID());
            await sql`
              insert into accounts (account_id, owner, risk_profile, currency, initial_cash_minor, idempotency_key, cash_minor)
              select id, 'owner', 1, 'USD', 1000000000, id::text, 1000000000 from unnest(${ids}::uuid[]) as id`;
            return ids;
          });
        const accounts = yield* openAccounts(10);
        let n = 0;
        const applyBatch = () => {
          const events = accounts.map((accountId) =>
            received(orderFilled({ accountId, fillId: `f-${n}`, symbol: `S${n++ % 7}`, side: "buy", quantity: 1n, priceMicros: 100_000_000n })),
          );
          return Effect.promise(() => sql.begin((tx) => Effect.runPromise(applyFills(outbox, events, tx))));
        };
        // Batches on nearly empty tables: PostgreSQL settles on generic plans for the reads.
        for (let i = 0; i < 10; i++) yield* applyBatch();
        // Then the books grow: 2,000 more accounts with 10 positions and 10 ledger rows each.
        const others = yield* openAccounts(2_000);
        yield* Effect.promise(
          () => sql`
            insert into positions (account_id, symbol, quantity, cost_basis_minor, last_price_micros, last_price_date)
            select id, 'X' || s, 1, 100, 100, current_date from unnest(${others}::uuid[]) as id, generate_series(1, 10) as s`,
        );
        yield* Effect.promise(
          () => sql`
            insert into fills (fill_id, account_id, order_id, symbol, side, quantity, price_micros, gross_amount_minor, fee_minor,
                               cash_delta_minor, realized_pnl_delta_minor, filled_at, event_id)
            select id || '-' || s, id, 'o', 'X' || s, 1, 1, 100, 100, 0, -100, 0, now(), gen_random_uuid()
            from unnest(${others}::uuid[]) as id, generate_series(1, 10) as s`,
        );
        const applied = yield* applyBatch();
        return {
          applied,
          fills: yield* Effect.promise(() => cachedPlans(sql, "from fills where fill_id")),
          positions: yield* Effect.promise(() => cachedPlans(sql, "from positions where account_id")),
        };
      }).pipe(
        Effect.provide(
          // One connection: the statements are prepared on it, where cachedPlans reads them.
          layerOutbox({ source: name }).pipe(Layer.orDie, Layer.provideMerge(layerSql({ url: database.env.DATABASE_URL!, schema: name, maxConnections: 1 }).pipe(Layer.orDie))),
        ),
      ),
    ),
  );
  expect(result.applied).toBe(10);
  for (const plans of [result.fills, result.positions]) {
    expect(plans).toHaveLength(1);
    expect(plans[0]!.genericPlans).toBeGreaterThan(0);
    expect(plans[0]!.plan).not.toContain("Seq Scan");
  }
  expect(result.fills[0]!.plan).toContain("fills_pkey");
  expect(result.positions[0]!.plan).toContain("positions_pkey");
}, 60_000);
