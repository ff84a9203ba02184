import { describe, expect, test } from "bun:test";
import { closesNeeded, components, linearScore } from "./components.js";

describe("sub-score mappings", () => {
  test("a clamped line: worst scores 0, best 100, halfway 50", () => {
    const momentum3m = components.momentum3m.scale; // -0.3 → 0, +0.3 → 100
    expect(linearScore(0, momentum3m)).toBe(50);
    expect(linearScore(0.15, momentum3m)).toBeCloseTo(75, 10); // 100 * (0.15 + 0.3) / 0.6
    expect(linearScore(-0.3, momentum3m)).toBe(0);
    expect(linearScore(0.35, momentum3m)).toBe(100); // beyond best: clamped
    expect(linearScore(-0.9, momentum3m)).toBe(0);
  });

  test("lower volatility and shallower drawdowns score higher", () => {
    // Volatility 0.6 → 0, 0.1 → 100: 0.35 is halfway, 0.4 scores 100 * (0.4 - 0.6) / (0.1 - 0.6) = 40.
    expect(linearScore(0.35, components.volatility.scale)).toBeCloseTo(50, 10);
    expect(linearScore(0.4, components.volatility.scale)).toBeCloseTo(40, 10);
    expect(linearScore(0.05, components.volatility.scale)).toBe(100);
    // Drawdown 0.5 → 0, 0 → 100: 0.2 scores 100 * (1 - 0.2 / 0.5) = 60.
    expect(linearScore(0.2, components.maxDrawdown.scale)).toBeCloseTo(60, 10);
    expect(linearScore(0, components.maxDrawdown.scale)).toBe(100);
    expect(linearScore(0.8, components.maxDrawdown.scale)).toBe(0);
  });

  test("a full score reads 253 closes: 252 daily moves for 12-month momentum and drawdown", () => {
    expect(closesNeeded).toBe(253);
    expect(components.trendStrength.closesNeeded).toBe(200);
    expect(components.volatility.closesNeeded).toBe(64);
  });
});
