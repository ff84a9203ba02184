import { describe, expect, test } from "bun:test";
import { checkDateRange, checkSymbol, indexSymbol, validateBars, type DailyBar } from "./bars.js";

const bar = (date: string, o: number, h: number, l: number, c: number, volume = 1000): DailyBar => ({
  date,
  openMicros: BigInt(o),
  highMicros: BigInt(h),
  lowMicros: BigInt(l),
  closeMicros: BigInt(c),
  volume: BigInt(volume),
});

const fields = (bars: DailyBar[]) => validateBars(bars).map((v) => v.field);

describe("bar validation", () => {
  test("valid bars break no rule", () => {
    expect(validateBars([bar("2024-01-02", 10, 12, 9, 11), bar("2024-01-03", 11, 11, 11, 11, 0)])).toEqual([]);
  });

  test("each broken rule names the bar and the field", () => {
    expect(
      fields([
        bar("2024-01-02", 10, 12, 9, 11),
        bar("2024-01-03", 0, 12, 9, 11),
        bar("2024-01-04", 10, 10, 9, 11),
        bar("2024-01-05", 10, 12, 11, 11),
        bar("2024-01-08", 10, 12, 9, 11, -1),
      ]),
    ).toEqual(["bars[1].open_micros", "bars[2].high_micros", "bars[3].low_micros", "bars[4].volume"]);
  });

  test("a high below the open or close and a low above them are both named", () => {
    expect(fields([bar("2024-01-02", 10, 9, 12, 11)])).toEqual(["bars[0].high_micros", "bars[0].low_micros"]);
  });

  test("dates must be real calendar dates, strictly increasing", () => {
    expect(
      fields([
        bar("2024-01-03", 10, 12, 9, 11),
        bar("2024-01-03", 10, 12, 9, 11),
        bar("2024-01-02", 10, 12, 9, 11),
        bar("2023-02-30", 10, 12, 9, 11),
        bar("24-1-5", 10, 12, 9, 11),
        bar("2024-01-09", 10, 12, 9, 11),
      ]),
    ).toEqual(["bars[1].date", "bars[2].date", "bars[3].date", "bars[4].date"]);
  });

  test("an empty batch and one over 10,000 bars are refused as a whole", () => {
    expect(fields([])).toEqual(["bars"]);
    const many = Array.from({ length: 10_001 }, () => bar("2024-01-02", 10, 12, 9, 11));
    const [violation] = validateBars(many);
    expect(violation?.field).toBe("bars");
    expect(violation?.description).toContain("10000");
  });
});

describe("symbols and ranges", () => {
  test("a security symbol or the index; anything else is named", () => {
    expect(checkSymbol("BRK.B", "symbol")).toEqual([]);
    expect(checkSymbol(indexSymbol, "symbol")).toEqual([]);
    expect(checkSymbol("aapl", "symbols[2]").map((v) => v.field)).toEqual(["symbols[2]"]);
  });

  test("from and to: dates or empty, from not after to", () => {
    expect(checkDateRange("", "")).toEqual([]);
    expect(checkDateRange("2024-01-01", "2024-12-31")).toEqual([]);
    expect(checkDateRange("2024-13-01", "yesterday").map((v) => v.field)).toEqual(["from", "to"]);
    expect(checkDateRange("2024-02-01", "2024-01-01").map((v) => v.field)).toEqual(["from"]);
  });
});
