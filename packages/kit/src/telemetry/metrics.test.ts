/** The registry's histograms, as Prometheus reads them: cumulative buckets, +Inf, sum and count. */
import { describe, expect, test } from "bun:test";
import { MetricsRegistry } from "./metrics.js";

describe("Histogram", () => {
  test("renders cumulative buckets: each bucket counts every observation at or below its bound", () => {
    const registry = new MetricsRegistry();
    const histogram = registry.histogram("test_seconds", "Test.", ["method"], [0.1, 1, 10]);
    const series = histogram.bind({ method: "a" });
    for (const value of [0.05, 0.1, 0.5, 1, 5, 50]) series.observe(value);
    const lines = registry.render().split("\n");
    expect(lines).toContain('test_seconds_bucket{method="a",le="0.1"} 2');
    expect(lines).toContain('test_seconds_bucket{method="a",le="1"} 4');
    expect(lines).toContain('test_seconds_bucket{method="a",le="10"} 5');
    expect(lines).toContain('test_seconds_bucket{method="a",le="+Inf"} 6');
    expect(lines).toContain('test_seconds_count{method="a"} 6');
    expect(lines).toContain('test_seconds_sum{method="a"} 56.65');
    expect(histogram.get({ method: "a" })).toEqual({ count: 6, sum: 56.65 });
  });
});
