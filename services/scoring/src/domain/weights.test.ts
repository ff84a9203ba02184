import { describe, expect, test } from "bun:test";
import { Regime } from "@meridian/sdk/market";
import { componentNames } from "./components.js";
import { weightPercents, weightsFor } from "./weights.js";

const regimes = [Regime.CRISIS, Regime.BEAR, Regime.SIDEWAYS, Regime.NORMAL_BULL, Regime.STRONG_BULL, Regime.UNSPECIFIED];
const sum = (row: Record<string, number>) => componentNames.reduce((s, name) => s + row[name]!, 0);

describe("regime weights", () => {
  test("every regime's row sums to 100 percent, and its weights to 1", () => {
    for (const regime of regimes) {
      expect(sum(weightPercents[regime])).toBe(100);
      expect(sum(weightsFor(regime))).toBeCloseTo(1, 12);
    }
  });

  test("a crisis weighs volatility and drawdown more than any other regime; a strong bull weighs momentum most", () => {
    const defensive = (r: Regime) => weightPercents[r].volatility + weightPercents[r].maxDrawdown;
    const momentum = (r: Regime) => weightPercents[r].momentum3m + weightPercents[r].momentum12m;
    for (const other of regimes.filter((r) => r !== Regime.CRISIS)) expect(defensive(Regime.CRISIS)).toBeGreaterThan(defensive(other));
    for (const other of regimes.filter((r) => r !== Regime.STRONG_BULL)) {
      expect(momentum(Regime.STRONG_BULL)).toBeGreaterThan(momentum(other));
    }
  });

  test("an enum value this build does not know gets the neutral row", () => {
    expect(weightsFor(99 as Regime)).toEqual(weightsFor(Regime.UNSPECIFIED));
  });
});
