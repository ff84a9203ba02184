/**
 * 2,000 fills through the real path (trading's outbox → relay → Redis Streams → the portfolio
 * consumer) with duplicates of two kinds (the same fill in a new envelope; the same envelope
 * appended again) and a restart of the portfolio service mid-stream: every fill is applied
 * exactly once and cash and positions come out right to the cent.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { toBinary } from "@bufbuild/protobuf";
import { Effect } from "effect";
import postgres from "postgres";
import { EnvelopeSchema, EventBus, makeEnvelope } from "@meridian/kit/events";
import { RiskProfile } from "@meridian/sdk/portfolio";
import type { OrderFilled } from "@meridian/sdk/trading";
import { OrderFilledEvent } from "../src/events.js";
import { eventually, orderFilled, startFillProducer, type FillProducer } from "./fills-fixture.js";
import { startHarness, type Harness } from "./harness.js";
import { expectedBooks, randomFills } from "./random-fills.js";

let harness: Harness;
let producer: FillProducer;
let sql: postgres.Sql;

beforeAll(async () => {
  harness = await startHarness();
  producer = await startFillProducer(harness.databaseUrl, harness.bus);
  sql = postgres(harness.databaseUrl, { max: 2, onnotice: () => {}, connection: { search_path: "portfolio" } });
}, 60_000);

afterAll(async () => {
  await sql?.end();
  await producer?.dispose();
  await harness?.dispose();
});

const initialCashMinor = 10_000_000n;

test("2,000 fills with duplicates and a restart mid-stream: each applied once, books right to the cent", async () => {
  const accounts: string[] = [];
  for (let i = 0; i < 5; i++) {
    const { account } = await Effect.runPromise(
      harness.client.openAccount({ owner: "load", initialCashMinor, riskProfile: RiskProfile.AGGRESSIVE, idempotencyKey: `acct-${i}` }),
    );
    accounts.push(account!.accountId);
  }
  const fills = randomFills(accounts, 2_000, 7);
  const sentinelAccount = (
    await Effect.runPromise(
      harness.client.openAccount({ owner: "load", initialCashMinor: 1_000n, riskProfile: RiskProfile.BALANCED, idempotencyKey: "sentinel" }),
    )
  ).account!.accountId;

  // Every fill, with 150 of them again in new envelopes (same fill_id, new event id), written
  // while the service is restarted part-way through applying them.
  const again = fills.filter((_, i) => i % 13 === 0).slice(0, 150);
  const writing = producer.write([...fills, ...again], 20);
  await eventually("some fills applied", async () => (await appliedCount()) >= 200);
  const appliedAtRestart = await appliedCount();
  await harness.restart();
  await writing;
  // It really was mid-stream: the restarted service had fills left to apply.
  expect(appliedAtRestart).toBeLessThan(fills.length);
  await eventually("the outbox drained", async () => (await producer.unsent()) === 0);
  // 150 envelopes appended twice more (the same event id: a relay's republishing).
  const republished = fills.filter((_, i) => i % 11 === 5).slice(0, 150).map(encoded);
  await Effect.runPromise(
    Effect.flatMap(Effect.service(EventBus), (bus) =>
      Effect.promise(() => bus.backend.append(bus.streamKey(OrderFilledEvent.topic), [...republished, ...republished], { maxLen: bus.maxLen })),
    ).pipe(Effect.provide(harness.bus)),
  );
  // Behind everything: one more fill. It is not a barrier: fills the killed instance held are
  // reclaimed only after claimIdleMs, and a sell refused before its buy is redelivered with backoff,
  // so either may be applied after it. Wait for the whole count (a lost fill times out here), then
  // let redeliveries settle: a fill applied twice would push the count past it.
  await producer.write([orderFilled({ accountId: sentinelAccount, fillId: "sentinel", side: "buy", quantity: 1n, priceMicros: 1_000_000n })]);
  await eventually("the sentinel applied", async () => (await sql`select 1 from fills where fill_id = 'sentinel'`).length === 1, 60_000);
  await eventually("every fill applied", async () => (await appliedCount()) >= 2_001, 60_000);
  await Bun.sleep(3_000); // longer than the harness's claimIdleMs (2 s): anything still pending has been redelivered

  expect(await appliedCount()).toBe(2_001);
  expect(await count(sql`select count(distinct fill_id)::text as n from fills`)).toBe(2_001);
  const expected = expectedBooks(fills, initialCashMinor);
  for (const accountId of accounts) {
    const { portfolio } = await Effect.runPromise(harness.client.getPortfolio({ accountId }));
    const books = expected.get(accountId)!;
    expect(portfolio!.cashMinor).toBe(books.cashMinor);
    expect(portfolio!.fillsApplied).toBe(BigInt(books.fills));
    expect(Object.fromEntries(portfolio!.positions.map((p) => [p.symbol, p.quantity]))).toEqual(
      Object.fromEntries([...books.quantities].filter(([, q]) => q > 0n)),
    );
    // Every minor unit accounted for: cash + cost of what is held = initial + realised.
    const cost = portfolio!.positions.reduce((sum, p) => sum + p.costBasisMinor, 0n);
    expect(portfolio!.cashMinor + cost).toBe(initialCashMinor + portfolio!.realizedPnlMinor);
  }
  // The duplicates reached the consumer and were recognised, not ignored by luck.
  // (each republished envelope is recorded once: its second copy is the same event id)
  expect(await count(sql`select count(*)::text as n from meridian_processed_events where consumer_group = 'portfolio'`)).toBe(
    2_001 + again.length + republished.length,
  );
}, 120_000);

async function appliedCount(): Promise<number> {
  return count(sql`select coalesce(sum(fills_applied), 0)::text as n from accounts`);
}

async function count(query: Promise<ReadonlyArray<Record<string, unknown>>>): Promise<number> {
  const [row] = await query;
  return Number(row?.n);
}

function encoded(fill: OrderFilled): Uint8Array {
  return toBinary(EnvelopeSchema, makeEnvelope(OrderFilledEvent, fill, "trading"));
}
