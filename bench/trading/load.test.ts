import { expect, test } from "bun:test";
import { callsDue, latencyWindows } from "./load.js";

test("an open loop's call is sent when it is due, not when the next one is", () => {
  // 300/s: a call every 3⅓ ms, the first at once.
  expect(callsDue(0, 300)).toBe(1);
  expect(callsDue(3.3, 300)).toBe(1);
  expect(callsDue(3.34, 300)).toBe(2);
  expect(callsDue(1000, 300)).toBe(301);
  // 1,000/s over 10 s: 10,000 calls due before the 10,000th millisecond ends.
  expect(callsDue(9_999.9, 1000)).toBe(10_000);
});

test("latency by window: calls go by when they were due, empty windows are kept", () => {
  const calls: Array<readonly [number, number]> = [
    [0, 900],
    [400, 1200],
    [999, 5],
    [1000, 10],
    [2500, 7],
  ];
  for (let i = 0; i < 100; i++) calls.push([3000 + i, i + 1]);
  const windows = latencyWindows(calls, 1000);
  expect(windows.map((w) => [w.fromS, w.calls])).toEqual([
    [0, 3],
    [1, 1],
    [2, 1],
    [3, 100],
  ]);
  expect(windows[0]).toMatchObject({ p50Ms: 900, maxMs: 1200 });
  expect(windows[3]).toMatchObject({ p50Ms: 51, p99Ms: 100, maxMs: 100 });
  expect(latencyWindows([[2500, 3]], 1000).map((w) => w.calls)).toEqual([0, 0, 1]);
});
