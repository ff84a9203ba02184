/**
 * The market handlers through the in-process transport, with universe in-process too and the
 * shipped dataset loaded on first start (embedded PGlite, in-process cache and bus: as `bun start` runs).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { Effect, Fiber, Stream } from "effect";
import { ServiceClient } from "@meridian/kit/client";
import { BarSchema, Regime, type RegimeReading } from "@meridian/sdk/market";
import { Universe } from "@meridian/sdk/universe";
import { datasetSecurities } from "../src/domain/dataset-symbols.js";
import { crashBars, weekdaysAfter } from "./market-bars.js";
import { failureOf, run, startInProcessMarket, type InProcessMarket } from "./in-process.js";

let market: InProcessMarket;
beforeAll(async () => {
  market = await startInProcessMarket();
}, 180_000);
afterAll(async () => {
  await market?.dispose();
}, 30_000);

async function until(done: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await Bun.sleep(20);
  }
}

const fieldsOf = (error: { _tag: string }) =>
  error._tag === "InvalidArgument" ? (error as unknown as { fieldViolations: { field: string }[] }).fieldViolations.map((v) => v.field) : error._tag;

describe("the shipped dataset", () => {
  test("is loaded on first start: every security and the index, oldest bar first", async () => {
    const { bars } = await run(market.client.getBars({ symbol: "AAPL" }));
    expect(bars.length).toBeGreaterThan(5 * 252);
    expect(bars[0]!.date).toBe("2019-01-01");
    expect(bars.at(-1)!.date).toBe("2025-12-31");
    const { quotes } = await run(market.client.getQuotes({ symbols: ["^MERIDIAN", ...datasetSecurities.map((s) => s.symbol)] }));
    expect(quotes.length).toBe(datasetSecurities.length + 1);
    expect(quotes.every((q) => q.date === "2025-12-31" && q.priceMicros > 0n)).toBe(true);
  });

  test("its securities are exactly the universe's seeded securities, sector for sector", async () => {
    const universe = await market.runtime.runPromise(Effect.service(ServiceClient(Universe)));
    const { securities } = await run(universe.listSecurities({ page: { pageSize: 500 } }));
    const bySymbol = (a: { symbol: string }, b: { symbol: string }) => a.symbol.localeCompare(b.symbol);
    expect(securities.map((s) => ({ symbol: s.symbol, sector: s.sector })).sort(bySymbol)).toEqual([...datasetSecurities].sort(bySymbol));
  });

  test("its regime history is backfilled and tells all five regimes", async () => {
    const { readings } = await run(market.client.getRegimeHistory({}));
    expect(new Set(readings.map((r) => r.regime)).size).toBe(5);
    const dates = readings.map((r) => r.asOf);
    expect([...dates].sort()).toEqual(dates);
    const in2020 = await run(market.client.getRegimeHistory({ from: "2020-01-01", to: "2020-12-31" }));
    expect(in2020.readings.length).toBeGreaterThan(0);
    expect(in2020.readings.every((r) => r.asOf >= "2020-01-01" && r.asOf <= "2020-12-31")).toBe(true);
    expect(in2020.readings.some((r) => r.regime === Regime.CRISIS)).toBe(true);
  });
});

describe("bars and quotes", () => {
  test("GetBars returns the range asked, inclusive", async () => {
    const { bars } = await run(market.client.getBars({ symbol: "MSFT", from: "2024-03-04", to: "2024-03-08" }));
    expect(bars.map((b) => b.date)).toEqual(["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08"]);
    const empty = await run(market.client.getBars({ symbol: "MSFT", from: "2030-01-01" }));
    expect(empty.bars).toEqual([]);
  });

  test("IngestBars inserts new days, replaces known ones, and says which", async () => {
    const [day1, day2] = weekdaysAfter("2025-12-31", 2);
    const bar = (date: string, close: bigint) =>
      create(BarSchema, { date, openMicros: 100_000_000n, highMicros: 120_000_000n, lowMicros: 90_000_000n, closeMicros: close, volume: 5n });
    expect(await run(market.client.ingestBars({ symbol: "KO", bars: [bar(day1!, 110_000_000n)] }))).toMatchObject({ inserted: 1, updated: 0 });
    const second = await run(market.client.ingestBars({ symbol: "KO", bars: [bar(day1!, 111_000_000n), bar(day2!, 112_000_000n)] }));
    expect(second).toMatchObject({ inserted: 1, updated: 1 });
    const { bars } = await run(market.client.getBars({ symbol: "KO", from: day1! }));
    expect(bars.map((b) => `${b.date} ${b.closeMicros}`)).toEqual([`${day1} 111000000`, `${day2} 112000000`]);
    const { quotes } = await run(market.client.getQuotes({ symbols: ["KO", "PG", "KO"] }));
    expect(quotes.map((q) => `${q.symbol} ${q.date}`)).toEqual([`KO ${day2}`, "PG 2025-12-31", `KO ${day2}`]);
  });
});

describe("bad input gets precise errors", () => {
  const good = { date: "2026-01-05", openMicros: 10n, highMicros: 12n, lowMicros: 9n, closeMicros: 11n, volume: 1n };

  test("invalid bars name every bad field, and nothing is stored", async () => {
    const error = await failureOf(
      market.client.ingestBars({
        symbol: "PG",
        bars: [
          create(BarSchema, good),
          create(BarSchema, { ...good, date: "2026-01-05", highMicros: 10n }),
          create(BarSchema, { ...good, date: "2026-02-30", lowMicros: -1n, volume: -5n }),
        ],
      }),
    );
    expect(fieldsOf(error)).toEqual(["bars[1].date", "bars[1].high_micros", "bars[2].date", "bars[2].low_micros", "bars[2].volume"]);
    const { bars } = await run(market.client.getBars({ symbol: "PG", from: "2026-01-05" }));
    expect(bars).toEqual([]);
  });

  test("a symbol the universe does not know is UnknownSymbols naming it; a malformed one is a field violation", async () => {
    const unknown = await failureOf(market.client.ingestBars({ symbol: "ZZZZ", bars: [create(BarSchema, good)] }));
    expect(unknown._tag).toBe("UnknownSymbols");
    if (unknown._tag === "UnknownSymbols") expect(unknown.symbols).toEqual(["ZZZZ"]);
    expect(fieldsOf(await failureOf(market.client.ingestBars({ symbol: "bad symbol", bars: [create(BarSchema, good)] })))).toEqual(["symbol"]);
  });

  test("more than 10,000 bars in one call is refused, naming bars", async () => {
    const bars = weekdaysAfter("1990-01-01", 10_001).map((date) => create(BarSchema, { ...good, date }));
    expect(fieldsOf(await failureOf(market.client.ingestBars({ symbol: "PG", bars })))).toEqual(["bars"]);
  });

  test("GetQuotes names every unknown symbol; bad lists are field violations", async () => {
    const error = await failureOf(market.client.getQuotes({ symbols: ["AAPL", "NOPE", "ZZZZ", "NOPE"] }));
    expect(error._tag).toBe("UnknownSymbols");
    if (error._tag === "UnknownSymbols") expect(error.symbols).toEqual(["NOPE", "ZZZZ"]);
    expect(fieldsOf(await failureOf(market.client.getQuotes({ symbols: [] })))).toEqual(["symbols"]);
    expect(fieldsOf(await failureOf(market.client.getQuotes({ symbols: ["AAPL", "aapl"] })))).toEqual(["symbols[1]"]);
    expect(fieldsOf(await failureOf(market.client.getQuotes({ symbols: Array.from({ length: 501 }, () => "AAPL") })))).toEqual(["symbols"]);
  });

  test("bad dates and reversed ranges name from and to; a symbol without bars is UnknownSymbols", async () => {
    expect(fieldsOf(await failureOf(market.client.getBars({ symbol: "AAPL", from: "2024-02-30", to: "soon" })))).toEqual(["from", "to"]);
    expect(fieldsOf(await failureOf(market.client.getRegimeHistory({ from: "2024-02-01", to: "2024-01-01" })))).toEqual(["from"]);
    expect((await failureOf(market.client.getBars({ symbol: "NOPE" })))._tag).toBe("UnknownSymbols");
  });
});

describe("the regime", () => {
  test("the current regime is the dataset's last, as of its last day, and reading it records no change", async () => {
    const before = await run(market.client.getRegimeHistory({}));
    const { reading } = await run(market.client.getCurrentRegime({}));
    expect(reading!.asOf).toBe("2025-12-31");
    expect(reading!.regime).toBe(before.readings.at(-1)!.regime);
    expect(reading!.confidence).toBeGreaterThanOrEqual(0);
    expect(reading!.confidence).toBeLessThanOrEqual(1);
    expect(reading!.indicators!.breadth).toBeGreaterThan(0);
    const after = await run(market.client.getRegimeHistory({}));
    expect(after.readings.length).toBe(before.readings.length);
  });

  test("WatchRegime sends the current reading, then the crisis an index crash ingested causes", async () => {
    const received: RegimeReading[] = [];
    const watch = Effect.runFork(
      Stream.runForEach(market.client.watchRegime({}), (message) => Effect.sync(() => received.push(message.reading!))),
    );
    await until(() => received.length >= 1);
    // The change feed opens alongside the first reading; give it a moment before the change.
    await Bun.sleep(500);
    const [index] = (await run(market.client.getQuotes({ symbols: ["^MERIDIAN"] }))).quotes;
    await run(market.client.ingestBars({ symbol: "^MERIDIAN", bars: crashBars(index!.priceMicros, index!.date) }));
    await until(() => received.length >= 2);
    await Effect.runPromise(Fiber.interrupt(watch));
    expect(received[0]!.regime).not.toBe(Regime.CRISIS);
    expect(received[1]!.regime).toBe(Regime.CRISIS);
    expect(received.length).toBe(2);
    const { reading } = await run(market.client.getCurrentRegime({}));
    expect(reading!.regime).toBe(Regime.CRISIS);
    const history = await run(market.client.getRegimeHistory({ from: reading!.asOf }));
    expect(history.readings.map((r) => r.regime)).toEqual([Regime.CRISIS]);
  }, 60_000);
});
