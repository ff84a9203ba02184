import { describe, expect, test } from "bun:test";
import { makeBatcher } from "./batcher.js";

/** A run that records its batches and ends each when told to. */
function gate() {
  const batches: string[][] = [];
  const ends: Array<() => void> = [];
  const run = (items: ReadonlyArray<string>) =>
    new Promise<string[]>((resolve, reject) => {
      batches.push([...items]);
      ends.push(() => (items.includes("bad") ? reject(new Error("batch failed")) : resolve(items.map((i) => `done ${i}`))));
    });
  return { batches, run, endNext: () => ends.shift()!() };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const batcherCall = <I, O>(options: Parameters<typeof makeBatcher<I, O>>[0]) => makeBatcher(options).submit;

describe("makeBatcher", () => {
  test("an idle batcher runs a call one turn later, alone; calls made while the batches run go together in the next", async () => {
    const g = gate();
    const call = batcherCall({ run: g.run, maxBatch: 3, maxInFlight: 1 });
    const first = call("a");
    await tick();
    expect(g.batches).toEqual([["a"]]);
    const later = ["b", "c", "d", "e"].map(call);
    await tick();
    expect(g.batches).toEqual([["a"]]); // waiting for the one batch allowed in flight
    g.endNext();
    expect(await first).toBe("done a");
    await tick();
    expect(g.batches).toEqual([["a"], ["b", "c", "d"]]); // in call order, at most maxBatch
    g.endNext();
    await tick();
    expect(g.batches.at(-1)).toEqual(["e"]);
    g.endNext();
    expect(await Promise.all(later)).toEqual(["done b", "done c", "done d", "done e"]);
  });

  test("calls made in the same turn share a batch; up to maxInFlight batches run at once", async () => {
    const g = gate();
    const call = batcherCall({ run: g.run, maxBatch: 2, maxInFlight: 2 });
    const calls = ["a", "b", "c", "d", "e"].map(call);
    await tick();
    expect(g.batches).toEqual([["a", "b"], ["c", "d"]]);
    g.endNext();
    await tick();
    expect(g.batches.at(-1)).toEqual(["e"]);
    g.endNext();
    g.endNext();
    expect(await Promise.all(calls)).toEqual(["done a", "done b", "done c", "done d", "done e"]);
  });

  test("items with one key never share a batch, and keep their call order", async () => {
    const g = gate();
    const call = batcherCall({ run: g.run, maxBatch: 10, maxInFlight: 1, keyOf: (item) => item.split(":")[0]! });
    const calls = ["x:1", "x:2", "y:1", "x:3", "z:1", "y:2"].map(call);
    await tick();
    expect(g.batches).toEqual([["x:1", "y:1", "z:1"]]);
    g.endNext();
    await tick();
    expect(g.batches.at(-1)).toEqual(["x:2", "y:2"]);
    g.endNext();
    await tick();
    expect(g.batches.at(-1)).toEqual(["x:3"]);
    g.endNext();
    expect(await Promise.all(calls)).toEqual(["done x:1", "done x:2", "done y:1", "done x:3", "done z:1", "done y:2"]);
  });

  test("an item whose key is in a running batch waits for that batch to end; other keys go on meanwhile", async () => {
    const g = gate();
    const call = batcherCall({ run: g.run, maxBatch: 10, maxInFlight: 2, keyOf: (item) => item.split(":")[0]! });
    const first = call("x:1");
    await tick();
    expect(g.batches).toEqual([["x:1"]]);
    // x:1's batch runs; a second may start, but without x:2, which would wait on what x:1 holds.
    const later = ["x:2", "y:1"].map(call);
    await tick();
    expect(g.batches).toEqual([["x:1"], ["y:1"]]);
    g.endNext();
    expect(await first).toBe("done x:1");
    await tick();
    expect(g.batches).toEqual([["x:1"], ["y:1"], ["x:2"]]);
    g.endNext();
    g.endNext();
    expect(await Promise.all(later)).toEqual(["done x:2", "done y:1"]);
  });

  test("drained: resolves once nothing waits and no batch runs", async () => {
    const g = gate();
    const batcher = makeBatcher({ run: g.run, maxBatch: 1, maxInFlight: 1 });
    await batcher.drained();
    const calls = ["a", "b"].map(batcher.submit);
    let drained = false;
    void batcher.drained().then(() => (drained = true));
    await tick();
    g.endNext();
    await tick();
    expect(drained).toBe(false);
    g.endNext();
    await Promise.all(calls);
    await tick();
    expect(drained).toBe(true);
  });

  test("a failed batch fails its own calls only; a batch answering the wrong count fails them too", async () => {
    const g = gate();
    const call = batcherCall({ run: g.run, maxBatch: 2, maxInFlight: 1 });
    const [a, bad, c] = ["a", "bad", "c"].map((item) => call(item).then((v) => v, (e: Error) => `failed: ${e.message}`));
    await tick();
    g.endNext();
    await tick();
    g.endNext();
    expect(await Promise.all([a, bad, c])).toEqual(["failed: batch failed", "failed: batch failed", "done c"]);

    const short = batcherCall<string, string>({ run: async () => ["only one"], maxBatch: 2, maxInFlight: 1 });
    const outcomes = await Promise.allSettled([short("p"), short("q")]);
    expect(outcomes.map((o) => (o.status === "rejected" ? (o.reason as Error).message : o.value))).toEqual([
      "batch of 2 answered 1 outcomes",
      "batch of 2 answered 1 outcomes",
    ]);
    const throwing = batcherCall<string, string>({ run: () => { throw new Error("sync throw"); }, maxBatch: 1, maxInFlight: 1 });
    expect(throwing("x")).rejects.toThrow("sync throw");
    expect(() => makeBatcher({ run: g.run, maxBatch: 0, maxInFlight: 1 })).toThrow(RangeError);
  });
});
