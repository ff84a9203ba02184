/**
 * A placement statement changes the ledger rows of the accounts it places for, found by key,
 * however many accounts there are: the plan PostgreSQL keeps for the statement must not read the
 * whole accounts table, or every placement statement grows with the number of accounts.
 */
import { afterAll, expect, test } from "bun:test";
import { Effect, Layer } from "effect";
import { layerOutbox } from "@meridian/kit/events";
import { layerSql, migrate, Sql } from "@meridian/kit/postgres";
import { cachedPlans, postgresDatabase } from "@meridian/kit/testing";
import { OrderSide, OrderType } from "@meridian/sdk/trading";
import { migrationsDir, name } from "../src/service.js";
import { layerOrderStore, OrderStore } from "../src/store.js";

const database = await postgresDatabase();
afterAll(() => database.drop());

test("the placement statement updates the ledger by key, with 20,000 accounts and their statistics", async () => {
  const result = await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const sql = yield* Sql;
        yield* migrate(migrationsDir);
        const store = yield* OrderStore;
        const accounts = Array.from({ length: 10 }, (_, i) => `acct-${i}`);
        for (const accountId of accounts) yield* store.registerAccount(accountId, { currency: "USD", initialCashMinor: 1_000_000_000n });
        let n = 0;
        // One market buy per account, placed together: statements of several placements.
        const placeRound = () =>
          Effect.all(
            accounts.map((accountId) =>
              store.place({
                terms: { accountId, symbol: "AAPL", side: OrderSide.BUY, type: OrderType.MARKET, quantity: 1n, limitPriceMicros: 0n, idempotencyKey: `k-${n++}` },
                currency: "USD",
                fillPriceMicros: 100_000_000n,
                restsAfter: "2024-01-05",
                feeBps: 0,
                meta: {},
              }),
            ),
            { concurrency: "unbounded" },
          );
        for (let i = 0; i < 10; i++) yield* placeRound();
        // The book grows, and PostgreSQL learns it (as autovacuum's ANALYZE would): the statement is
        // planned again, for its values a few times, then it settles on a generic plan again.
        yield* Effect.promise(
          () => sql`insert into accounts (account_id, currency, initial_cash_minor, cash_minor)
                    select 'other-' || i, 'USD', 1000, 1000 from generate_series(1, 20000) as i`,
        );
        yield* Effect.promise(() => sql`analyze accounts`);
        const outcomes = [];
        for (let i = 0; i < 10; i++) outcomes.push(...(yield* placeRound()));
        return { outcomes, plans: yield* Effect.promise(() => cachedPlans(sql, "place_check")) };
      }).pipe(
        Effect.provide(
          // One connection: the statements are prepared on it, where cachedPlans reads them.
          layerOrderStore.pipe(
            Layer.provideMerge(layerOutbox({ source: name })),
            Layer.orDie,
            Layer.provideMerge(layerSql({ url: database.env.DATABASE_URL!, schema: name, maxConnections: 1 }).pipe(Layer.orDie)),
          ),
        ),
      ),
    ),
  );
  expect(result.outcomes.map((o) => o._tag)).toEqual(Array(100).fill("Placed"));
  expect(result.plans).toHaveLength(1);
  const [{ genericPlans, plan }] = result.plans as [(typeof result.plans)[number]];
  expect(genericPlans).toBeGreaterThan(0);
  // Before place_check was declared to return one row, the ledger update hashed the whole table.
  expect(plan).toContain("Index Scan using accounts_pkey on accounts");
  expect(plan).not.toContain("Seq Scan");
}, 120_000);
