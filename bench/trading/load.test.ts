import { expect, test } from "bun:test";
import { callsDue } from "./load.js";

test("an open loop's call is sent when it is due, not when the next one is", () => {
  // 300/s: a call every 3⅓ ms, the first at once.
  expect(callsDue(0, 300)).toBe(1);
  expect(callsDue(3.3, 300)).toBe(1);
  expect(callsDue(3.34, 300)).toBe(2);
  expect(callsDue(1000, 300)).toBe(301);
  // 1,000/s over 10 s: 10,000 calls due before the 10,000th millisecond ends.
  expect(callsDue(9_999.9, 1000)).toBe(10_000);
});
