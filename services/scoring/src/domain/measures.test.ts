import { describe, expect, test } from "bun:test";
import { annualisedVolatility, maxDrawdown, momentum, movingAverage, trendStrength } from "./measures.js";

describe("measures on small series, by hand", () => {
  test("momentum is the last close over the close `lookback` days earlier, minus 1", () => {
    // 121 / 100 - 1 = 0.21; 121 / 110 - 1 = 0.1
    expect(momentum([100, 110, 121], 2)).toBeCloseTo(0.21, 12);
    expect(momentum([100, 110, 121], 1)).toBeCloseTo(0.1, 12);
    // Only the last lookback + 1 closes matter.
    expect(momentum([5, 7, 100, 110, 121], 2)).toBeCloseTo(0.21, 12);
  });

  test("volatility is the sample deviation of daily returns, annualised by sqrt(252)", () => {
    // Returns: 110/100-1 = 0.1, 99/110-1 = -0.1, 108.9/99-1 = 0.1; mean 0.1/3.
    // Squared deviations: (0.2/3)^2 + (0.4/3)^2 + (0.2/3)^2 = 0.24/9; / (3-1) = 0.04/3.
    // sqrt(0.04/3) * sqrt(252) = sqrt(0.04 * 84) = sqrt(3.36) = 1.8330...
    expect(annualisedVolatility([100, 110, 99, 108.9], 3)).toBeCloseTo(Math.sqrt(3.36), 10);
    // Constant growth has no spread of returns.
    expect(annualisedVolatility([100, 101, 102.01, 103.0301], 3)).toBeCloseTo(0, 12);
  });

  test("max drawdown is the deepest fall from a running peak within the window", () => {
    // Peaks 100, 120 (falls to 90: 0.25, to 110: 0.083, to 60: 0.5), then 130: a new peak. Worst 0.5.
    expect(maxDrawdown([100, 120, 90, 110, 60, 130], 5)).toBeCloseTo(0.5, 12);
    // Last 3 closes only (2 days): peak 110, trough 60: 1 - 60/110 = 0.4545...
    expect(maxDrawdown([100, 120, 90, 110, 60, 130], 2)).toBeCloseTo(1 - 60 / 110, 12);
    // A series that only rises never draws down.
    expect(maxDrawdown([1, 2, 3, 4], 3)).toBe(0);
  });

  test("trend strength is the short over the long moving average, minus 1", () => {
    // SMA2 of [.., 5, 6] = 5.5; SMA4 of [3, 4, 5, 6] = 4.5; 5.5 / 4.5 - 1 = 0.2222...
    expect(movingAverage([1, 2, 3, 4, 5, 6], 4)).toBe(4.5);
    expect(trendStrength([1, 2, 3, 4, 5, 6], 2, 4)).toBeCloseTo(1 / 4.5, 12);
    expect(trendStrength([6, 5, 4, 3, 2, 1], 2, 4)).toBeCloseTo(1.5 / 2.5 - 1, 12);
  });

  test("a series shorter than a measure reads is a RangeError naming the counts", () => {
    expect(() => momentum([100, 110], 2)).toThrow("momentum needs 3 closes, got 2");
    expect(() => annualisedVolatility([100, 110, 120], 3)).toThrow(RangeError);
    expect(() => maxDrawdown([100], 1)).toThrow(RangeError);
    expect(() => trendStrength([1, 2, 3], 2, 4)).toThrow(RangeError);
  });
});
