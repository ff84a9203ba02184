/**
 * The bars and regime-history tables: the SQL of the market service, next to the code that
 * uses it. Writes that describe a change also write its event to the outbox, in one transaction.
 */
import { create } from "@bufbuild/protobuf";
import { Context, Effect, Layer } from "effect";
import type postgres from "postgres";
import type { Unavailable } from "@meridian/kit";
import { Outbox, type EventMeta } from "@meridian/kit/events";
import { query, type Sql } from "@meridian/kit/postgres";
import { BarsIngestedSchema, Regime, RegimeChangedSchema } from "@meridian/sdk/market";
import { indexSymbol, type DailyBar } from "./domain/bars.js";
import type { Series } from "./domain/dataset.js";
import { breadthWindow } from "./domain/indicators.js";
import { BarsIngestedEvent, RegimeChangedEvent } from "./events.js";
import { toReadingMessage, type Reading } from "./reading.js";

/** The latest close of a symbol. */
export interface QuoteRow {
  readonly date: string;
  readonly priceMicros: bigint;
}

/** What the regime is computed from, as of the latest index bar. */
export interface MarketSeries {
  readonly asOf: string;
  /** Every index close, oldest first. */
  readonly index: ReadonlyArray<number>;
  /** Each security's last 200 closes up to `asOf`, oldest first. */
  readonly constituents: ReadonlyArray<ReadonlyArray<number>>;
}

/** What the handlers and the regime need from storage. */
export interface MarketStoreShape {
  /** Upserts the bars by (symbol, date) and writes BarsIngested in the same transaction. */
  readonly ingest: (symbol: string, bars: ReadonlyArray<DailyBar>, meta: EventMeta) => Effect.Effect<{ inserted: number; updated: number }, Unavailable>;
  /** The symbol's bars within [from, to] (either may be undefined), oldest first; undefined when it has no bars at all. */
  readonly bars: (symbol: string, from: string | undefined, to: string | undefined) => Effect.Effect<DailyBar[] | undefined, Unavailable>;
  /** The latest close of each symbol that has bars. */
  readonly quotes: (symbols: ReadonlyArray<string>) => Effect.Effect<Map<string, QuoteRow>, Unavailable>;
  /** The series the regime is classified from; the index part may be short or empty. */
  readonly marketSeries: Effect.Effect<MarketSeries, Unavailable>;
  /** The last recorded reading, if any. */
  readonly lastReading: Effect.Effect<Reading | undefined, Unavailable>;
  /**
   * Records `reading` and writes RegimeChanged, in one transaction, if its regime differs from the
   * last recorded one; under a lock, so concurrent callers (any process) record a change once.
   * Returns the previous regime when it recorded, undefined when nothing changed.
   */
  readonly recordIfChanged: (reading: Reading, meta: EventMeta) => Effect.Effect<{ previous: Regime } | undefined, Unavailable>;
  /** Recorded readings with from <= as_of <= to, oldest first. */
  readonly history: (from: string | undefined, to: string | undefined) => Effect.Effect<Reading[], Unavailable>;
  /** True when no bar is stored. */
  readonly isEmpty: Effect.Effect<boolean, Unavailable>;
  /**
   * Loads series and past readings in bulk (the shipped dataset), without events, if no bar is
   * stored; under a lock, so two instances starting together load it once. Says whether it loaded.
   */
  readonly loadIfEmpty: (series: ReadonlyArray<Series>, history: ReadonlyArray<Reading>) => Effect.Effect<boolean, Unavailable>;
}

/** Storage of bars and regimes. */
export class MarketStore extends Context.Service<MarketStore, MarketStoreShape>()("@meridian/market/MarketStore") {}

/** Rows per statement of a bulk load: big statements, few round trips. */
const loadBatchRows = 10_000;

interface BarRow {
  readonly date: string;
  readonly open: string;
  readonly high: string;
  readonly low: string;
  readonly close: string;
  readonly volume: string;
}

interface ReadingRow {
  readonly regime: number;
  readonly confidence: number;
  readonly indicators: Reading["indicators"];
  readonly as_of: string;
  readonly computed_at: Date;
}

/** The PostgreSQL store, over the service's pool and outbox. */
export const layerMarketStore: Layer.Layer<MarketStore, never, Sql | Outbox> = Layer.effect(
  MarketStore,
  Effect.gen(function* () {
    const context = yield* Effect.context<Sql>();
    const outbox = yield* Outbox;
    const run = <A>(body: (sql: postgres.Sql) => Promise<A>) => Effect.provideContext(query(body), context);
    return {
      ingest: (symbol, bars, meta) =>
        run((sql) =>
          sql.begin(async (tx) => {
            const [counts] = await tx<{ inserted: number; updated: number }[]>`
              with upserted as (
                insert into bars (symbol, date, open_micros, high_micros, low_micros, close_micros, volume)
                select ${symbol}, * from unnest(
                  ${bars.map((b) => b.date)}::date[], ${bars.map((b) => String(b.openMicros))}::bigint[],
                  ${bars.map((b) => String(b.highMicros))}::bigint[], ${bars.map((b) => String(b.lowMicros))}::bigint[],
                  ${bars.map((b) => String(b.closeMicros))}::bigint[], ${bars.map((b) => String(b.volume))}::bigint[])
                on conflict (symbol, date) do update
                  set open_micros = excluded.open_micros, high_micros = excluded.high_micros, low_micros = excluded.low_micros,
                      close_micros = excluded.close_micros, volume = excluded.volume, updated_at = now()
                returning (xmax = 0) as inserted)
              select (count(*) filter (where inserted))::int as inserted, (count(*) filter (where not inserted))::int as updated
              from upserted`;
            const result = { inserted: counts?.inserted ?? 0, updated: counts?.updated ?? 0 };
            await outbox.write(
              tx,
              BarsIngestedEvent,
              create(BarsIngestedSchema, { symbol, ...result, firstDate: bars[0]?.date ?? "", lastDate: bars.at(-1)?.date ?? "" }),
              meta,
            );
            return result;
          }),
        ),
      bars: (symbol, from, to) =>
        run(async (sql) => {
          const rows = await sql<BarRow[]>`
            select date::text as date, open_micros::text as open, high_micros::text as high, low_micros::text as low,
                   close_micros::text as close, volume::text as volume
            from bars
            where symbol = ${symbol}
              ${from === undefined ? sql`` : sql`and date >= ${from}::date`}
              ${to === undefined ? sql`` : sql`and date <= ${to}::date`}
            order by date`;
          if (rows.length > 0) return rows.map(toBar);
          const [known] = await sql<{ known: boolean }[]>`select exists (select 1 from bars where symbol = ${symbol}) as known`;
          return known?.known === true ? [] : undefined;
        }),
      quotes: (symbols) =>
        run(async (sql) => {
          const rows = await sql<{ symbol: string; date: string; price: string }[]>`
            select q.symbol, q.date::text as date, q.close_micros::text as price
            from unnest(${[...new Set(symbols)]}::text[]) as s(symbol)
            cross join lateral (
              select symbol, date, close_micros from bars where bars.symbol = s.symbol order by date desc limit 1
            ) as q`;
          return new Map(rows.map((r) => [r.symbol, { date: r.date, priceMicros: BigInt(r.price) }]));
        }),
      marketSeries: run(async (sql) => {
        const index = await sql<{ date: string; close: number }[]>`
          select date::text as date, close_micros::float8 as close from bars where symbol = ${indexSymbol} order by date`;
        const asOf = index.at(-1)?.date ?? "";
        if (asOf === "") return { asOf, index: [], constituents: [] };
        // Each security's last closes up to the index's day, found through the primary key.
        const constituents = await sql<{ closes: number[] }[]>`
          with recursive symbols as (
            (select symbol from bars where symbol <> ${indexSymbol} order by symbol limit 1)
            union all
            select (select b.symbol from bars b where b.symbol > symbols.symbol and b.symbol <> ${indexSymbol} order by b.symbol limit 1)
            from symbols where symbols.symbol is not null
          )
          select (select array_agg(close order by date) from (
                    select date, close_micros::float8 as close from bars
                    where bars.symbol = symbols.symbol and date <= ${asOf}::date
                    order by date desc limit ${breadthWindow}) as last) as closes
          from symbols where symbols.symbol is not null`;
        return {
          asOf,
          index: index.map((r) => r.close),
          constituents: constituents.map((r) => r.closes ?? []),
        };
      }),
      lastReading: run(async (sql) => {
        const [row] = await sql<ReadingRow[]>`
          select regime, confidence, indicators, as_of::text as as_of, computed_at from regime_history order by id desc limit 1`;
        return row === undefined ? undefined : toReading(row);
      }),
      recordIfChanged: (reading, meta) =>
        run((sql) =>
          sql.begin(async (tx) => {
            // One recorder at a time, in every process sharing the database: the second sees the first's row.
            await tx`select pg_advisory_xact_lock(hashtext('meridian.market.regime'))`;
            const [last] = await tx<{ regime: number }[]>`select regime from regime_history order by id desc limit 1`;
            const previous = (last?.regime ?? Regime.UNSPECIFIED) as Regime;
            if (previous === reading.regime) return undefined;
            await insertReadings(tx, [reading]);
            await outbox.write(
              tx,
              RegimeChangedEvent,
              create(RegimeChangedSchema, { previous, current: toReadingMessage(reading) }),
              meta,
            );
            return { previous };
          }),
        ),
      history: (from, to) =>
        run(async (sql) => {
          const rows = await sql<ReadingRow[]>`
            select regime, confidence, indicators, as_of::text as as_of, computed_at from regime_history
            where true
              ${from === undefined ? sql`` : sql`and as_of >= ${from}::date`}
              ${to === undefined ? sql`` : sql`and as_of <= ${to}::date`}
            order by as_of, id`;
          return rows.map(toReading);
        }),
      isEmpty: run(async (sql) => {
        const [row] = await sql<{ empty: boolean }[]>`select not exists (select 1 from bars) as empty`;
        return row?.empty ?? true;
      }),
      loadIfEmpty: (series, history) =>
        run((sql) =>
          sql.begin(async (tx) => {
            await tx`select pg_advisory_xact_lock(hashtext('meridian.market.seed'))`;
            const [stored] = await tx<{ any: boolean }[]>`select exists (select 1 from bars) as any`;
            if (stored?.any === true) return false;
            const rows = series.flatMap((s) => s.bars.map((bar) => ({ symbol: s.symbol, bar })));
            for (let at = 0; at < rows.length; at += loadBatchRows) {
              const batch = rows.slice(at, at + loadBatchRows);
              await tx`
                insert into bars (symbol, date, open_micros, high_micros, low_micros, close_micros, volume)
                select * from unnest(
                  ${batch.map((r) => r.symbol)}::text[], ${batch.map((r) => r.bar.date)}::date[],
                  ${batch.map((r) => String(r.bar.openMicros))}::bigint[], ${batch.map((r) => String(r.bar.highMicros))}::bigint[],
                  ${batch.map((r) => String(r.bar.lowMicros))}::bigint[], ${batch.map((r) => String(r.bar.closeMicros))}::bigint[],
                  ${batch.map((r) => String(r.bar.volume))}::bigint[])
                on conflict (symbol, date) do nothing`;
            }
            if (history.length > 0) await insertReadings(tx, history);
            return true;
          }),
        ),
    } satisfies MarketStoreShape;
  }),
);

async function insertReadings(tx: postgres.TransactionSql, readings: ReadonlyArray<Reading>): Promise<void> {
  await tx`
    insert into regime_history (regime, confidence, indicators, as_of, computed_at)
    select * from unnest(
      ${readings.map((r) => r.regime)}::int[], ${readings.map((r) => r.confidence)}::float8[],
      ${readings.map((r) => JSON.stringify(r.indicators))}::jsonb[], ${readings.map((r) => r.asOf)}::date[],
      ${readings.map((r) => r.computedAt.toISOString())}::timestamptz[])`;
}

function toBar(row: BarRow): DailyBar {
  return {
    date: row.date,
    openMicros: BigInt(row.open),
    highMicros: BigInt(row.high),
    lowMicros: BigInt(row.low),
    closeMicros: BigInt(row.close),
    volume: BigInt(row.volume),
  };
}

function toReading(row: ReadingRow): Reading {
  return {
    regime: row.regime as Regime,
    confidence: row.confidence,
    indicators: row.indicators,
    asOf: row.as_of,
    computedAt: row.computed_at,
  };
}
