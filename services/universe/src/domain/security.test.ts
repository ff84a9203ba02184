import { describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { Sector, SecuritySchema } from "@meridian/sdk/universe";
import { readFilter, validateSecurity } from "./security.js";

const valid = create(SecuritySchema, { symbol: "BRK.B", name: "Berkshire", sector: Sector.FINANCIALS, currency: "USD", active: true });

describe("security rules", () => {
  test("a well-formed security breaks no rule", () => {
    expect(validateSecurity(valid)).toEqual([]);
  });

  test("every broken rule is named by its field path", () => {
    const bad = create(SecuritySchema, { symbol: "aapl", name: "  ", sector: Sector.UNSPECIFIED, currency: "XXX" });
    expect(validateSecurity(bad).map((v) => v.field)).toEqual([
      "security.symbol",
      "security.name",
      "security.sector",
      "security.currency",
    ]);
  });

  test("symbols: upper-case start, at most 10 characters, letters digits and dots", () => {
    const symbolOk = (symbol: string) => validateSecurity({ ...valid, symbol }).length === 0;
    expect(symbolOk("A")).toBe(true);
    expect(symbolOk("ABCDEFGHIJ")).toBe(true);
    expect(symbolOk("ABCDEFGHIJK")).toBe(false);
    expect(symbolOk("1ABC")).toBe(false);
    expect(symbolOk("AB-C")).toBe(false);
    expect(symbolOk("")).toBe(false);
  });

  test("a missing security is a violation of the field itself", () => {
    expect(validateSecurity(undefined)).toEqual([{ field: "security", description: "is required" }]);
  });

  test("a sector number outside the enum is rejected", () => {
    expect(validateSecurity({ ...valid, sector: 99 as Sector }).map((v) => v.field)).toEqual(["security.sector"]);
  });

  test("list filters: unset means any; set values must be valid", () => {
    expect(readFilter({ sector: Sector.UNSPECIFIED, currency: "" })).toEqual({
      filter: { sector: undefined, currency: undefined, active: undefined },
      violations: [],
    });
    const { violations } = readFilter({ sector: 42 as Sector, currency: "usd", active: true });
    expect(violations.map((v) => v.field)).toEqual(["sector", "currency"]);
  });
});
