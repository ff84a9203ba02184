import { describe, expect, test } from "bun:test";
import { RiskProfile } from "@meridian/sdk/portfolio";
import { checkDate, isAccountIdShape, readNewAccount } from "./account.js";

const valid = { owner: " alice ", initialCashMinor: 1_000_00n, currency: "", riskProfile: RiskProfile.BALANCED, idempotencyKey: "k1" };

describe("readNewAccount", () => {
  test("a valid request is normalised: owner trimmed, USD by default", () => {
    const { account, violations } = readNewAccount(valid);
    expect(violations).toEqual([]);
    expect(account).toEqual({ owner: "alice", initialCashMinor: 100_000n, currency: "USD", riskProfile: RiskProfile.BALANCED, idempotencyKey: "k1" });
  });

  test("every broken rule is named by its field", () => {
    const { violations } = readNewAccount({ owner: "  ", initialCashMinor: 0n, currency: "usd", riskProfile: RiskProfile.UNSPECIFIED, idempotencyKey: "" });
    expect(violations.map((v) => v.field)).toEqual(["owner", "initial_cash_minor", "currency", "risk_profile", "idempotency_key"]);
  });

  test("negative or absurd cash, unknown risk profiles and non-two-decimal currencies are refused", () => {
    expect(readNewAccount({ ...valid, initialCashMinor: -1n }).violations.map((v) => v.field)).toEqual(["initial_cash_minor"]);
    expect(readNewAccount({ ...valid, initialCashMinor: 10n ** 16n }).violations.map((v) => v.field)).toEqual(["initial_cash_minor"]);
    expect(readNewAccount({ ...valid, riskProfile: 9 as RiskProfile }).violations.map((v) => v.field)).toEqual(["risk_profile"]);
    expect(readNewAccount({ ...valid, currency: "JPY" }).violations[0]?.description).toContain("two minor digits");
    expect(readNewAccount({ ...valid, currency: "EURO" }).violations.map((v) => v.field)).toEqual(["currency"]);
    expect(readNewAccount({ ...valid, currency: "EUR" }).violations).toEqual([]);
  });
});

describe("request fields", () => {
  test("account ids are UUIDs", () => {
    expect(isAccountIdShape("0193a5e0-7c1a-7b2e-9f00-123456789abc")).toBe(true);
    expect(isAccountIdShape("acc-1")).toBe(false);
  });

  test("dates are real YYYY-MM-DD dates or empty", () => {
    expect(checkDate("", "from")).toEqual([]);
    expect(checkDate("2024-02-29", "from")).toEqual([]);
    expect(checkDate("2023-02-29", "from").map((v) => v.field)).toEqual(["from"]);
    expect(checkDate("2024-13-01", "to").map((v) => v.field)).toEqual(["to"]);
    expect(checkDate("24-1-1", "to").map((v) => v.field)).toEqual(["to"]);
  });
});
