import { describe, expect, test } from "bun:test";
import { Sector } from "@meridian/sdk/universe";
import { checkRanking, checkSymbols } from "./requests.js";

const fields = (violations: ReadonlyArray<{ field: string }>) => violations.map((v) => v.field);

describe("request rules", () => {
  test("a valid list of distinct symbols breaks nothing", () => {
    expect(checkSymbols(["AAPL", "BRK.B", "MSFT"])).toEqual([]);
  });

  test("an empty list and one over 500 are violations of `symbols`", () => {
    expect(fields(checkSymbols([]))).toEqual(["symbols"]);
    const symbols = Array.from({ length: 501 }, (_, i) => `S${i}`);
    const violations = checkSymbols(symbols);
    expect(fields(violations)).toEqual(["symbols"]);
    expect(violations[0]!.description).toContain("at most 500 symbols (got 501)");
  });

  test("each bad or repeated symbol is named by its index", () => {
    const violations = checkSymbols(["AAPL", "bad", "MSFT", "AAPL", "", "MSFT"]);
    expect(fields(violations)).toEqual(["symbols[1]", "symbols[3]", "symbols[4]", "symbols[5]"]);
    expect(violations[1]!.description).toContain("repeats symbols[0]");
    expect(violations[3]!.description).toContain("repeats symbols[2]");
  });

  test("top_n must be 1 to 500; sector unset or known", () => {
    expect(checkRanking({ topN: 10, sector: Sector.UNSPECIFIED })).toEqual([]);
    expect(checkRanking({ topN: 500, sector: Sector.ENERGY })).toEqual([]);
    expect(fields(checkRanking({ topN: 0, sector: Sector.UNSPECIFIED }))).toEqual(["top_n"]);
    expect(fields(checkRanking({ topN: 501, sector: 77 as Sector }))).toEqual(["top_n", "sector"]);
  });
});
