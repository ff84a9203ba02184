import { describe, expect, test } from "bun:test";
import { Regime } from "@meridian/sdk/market";
import { RiskProfile } from "@meridian/sdk/portfolio";
import { allocationFor } from "./allocation.js";

const regimes = [Regime.STRONG_BULL, Regime.NORMAL_BULL, Regime.SIDEWAYS, Regime.BEAR, Regime.CRISIS];
const profiles = [RiskProfile.AGGRESSIVE, RiskProfile.BALANCED, RiskProfile.CONSERVATIVE];

describe("allocation table", () => {
  test("the worse the regime, the more cash and the fewer names, for every profile", () => {
    for (const profile of profiles) {
      const rows = regimes.map((regime) => allocationFor(profile, regime));
      for (let i = 1; i < rows.length; i++) {
        expect(rows[i]!.cashFloorBps).toBeGreaterThan(rows[i - 1]!.cashFloorBps);
        expect(rows[i]!.holdings).toBeLessThanOrEqual(rows[i - 1]!.holdings);
      }
    }
  });

  test("conservative keeps more cash than balanced, balanced more than aggressive, in every regime", () => {
    for (const regime of regimes) {
      const [aggressive, balanced, conservative] = profiles.map((p) => allocationFor(p, regime));
      expect(conservative!.cashFloorBps).toBeGreaterThan(balanced!.cashFloorBps);
      expect(balanced!.cashFloorBps).toBeGreaterThan(aggressive!.cashFloorBps);
    }
  });

  test("crisis: conservative keeps 70% in 3 names; unknowns plan cautiously", () => {
    expect(allocationFor(RiskProfile.CONSERVATIVE, Regime.CRISIS)).toEqual({ holdings: 3, cashFloorBps: 7000 });
    expect(allocationFor(RiskProfile.BALANCED, Regime.UNSPECIFIED)).toEqual(allocationFor(RiskProfile.BALANCED, Regime.BEAR));
    expect(allocationFor(RiskProfile.UNSPECIFIED, Regime.SIDEWAYS)).toEqual(allocationFor(RiskProfile.CONSERVATIVE, Regime.SIDEWAYS));
  });
});
