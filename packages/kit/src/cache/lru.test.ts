import { describe, expect, test } from "bun:test";
import { LruMap } from "./lru.js";

describe("LruMap", () => {
  test("holds at most maxEntries: a full map drops the least recently used, read or written", () => {
    const map = new LruMap<string, number>(3);
    map.set("a", 1).set("b", 2).set("c", 3);
    expect(map.get("a")).toBe(1); // a is now the most recently used
    map.set("d", 4); // b goes
    expect(map.size).toBe(3);
    expect([...map.keys()]).toEqual(["c", "a", "d"]);
    expect(map.get("b")).toBeUndefined();
    map.set("c", 30); // rewritten: the most recently used again
    map.set("e", 5); // a goes
    expect([...map.keys()]).toEqual(["d", "c", "e"]);
    expect(map.get("c")).toBe(30);
  });

  test("filling it forgets only what nobody used lately, not everything at once", () => {
    const map = new LruMap<number, string>(1000);
    for (let i = 0; i < 1000; i++) map.set(i, `v${i}`);
    // A hot entry, read between inserts, survives any number of new ones.
    for (let i = 1000; i < 5000; i++) {
      expect(map.get(0)).toBe("v0");
      map.set(i, `v${i}`);
    }
    expect(map.size).toBe(1000);
    expect(map.get(0)).toBe("v0");
    expect(map.get(4999)).toBe("v4999");
    expect(map.get(4001)).toBe("v4001"); // the hot entry and the 999 newest
    expect(map.get(4000)).toBeUndefined();
    expect(map.get(1)).toBeUndefined();
    expect(map.delete(4999)).toBe(true);
    expect(map.size).toBe(999);
  });

  test("refuses a size that is not a positive integer", () => {
    expect(() => new LruMap(0)).toThrow(RangeError);
    expect(() => new LruMap(1.5)).toThrow("maxEntries must be a positive integer, got 1.5");
  });
});
