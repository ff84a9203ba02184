import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Context, Data, Effect, Exit, Fiber, Layer, ManagedRuntime, Scope } from "effect";
import postgres from "postgres";
import { Unavailable } from "../errors.js";
import { GroupCommit, layerGroupCommit, type GroupCommitOptions, type Unit } from "./group-commit.js";
import { layerSql } from "./sql.js";

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const schema = `t_gc_${Math.random().toString(36).slice(2, 10)}`;
const admin = postgres(url, { max: 2, onnotice: () => {} });

beforeAll(async () => {
  await admin`create schema ${admin(schema)}`;
});

afterAll(async () => {
  await admin`drop schema if exists ${admin(schema)} cascade`;
  await admin.end();
});

class Refused extends Data.TaggedError("Refused")<{ readonly n: number }> {}

const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
};

/** A group commit on a pool of its own, over a fresh table `name` (n int primary key, txid bigint). */
async function setup(name: string, options: GroupCommitOptions) {
  await admin`create table ${admin(schema)}.${admin(name)} (n int primary key, txid bigint not null)`;
  const runtime = ManagedRuntime.make(layerGroupCommit(options).pipe(Layer.provideMerge(layerSql({ url, schema, maxConnections: 4 }))));
  const run = <A, E>(unit: Unit<A, E, never>) => runtime.runPromiseExit(Effect.flatMap(Effect.service(GroupCommit), (gc) => gc.run(unit)));
  const insert = (n: number): Unit<number, never, never> => (tx) =>
    Effect.promise(() => tx`insert into ${tx(name)} (n, txid) values (${n}, txid_current())`.then(() => n));
  const rows = async () => (await admin<{ n: number; txid: string }[]>`select n, txid::text from ${admin(schema)}.${admin(name)} order by n`).map((r) => ({ ...r }));
  // Holds the only lane until `open`, so that what is submitted meanwhile forms the next batch.
  const block = async () => {
    const started = gate();
    const release = gate();
    const done = run((_tx) => Effect.promise(async () => {
      started.open();
      await release.opened;
    }));
    await started.opened;
    return { open: release.open, done };
  };
  return { runtime, run, insert, rows, block };
}

describe.each(["rerun", "savepoint"] as const)("group commit (%s)", (isolation) => {
  test("concurrent units commit together: one transaction per batch, not per unit", async () => {
    const { runtime, run, insert, rows, block } = await setup(`many_${isolation}`, { lanes: 1, maxBatch: 32, isolation });
    try {
      const blocker = await block();
      const units = Array.from({ length: 40 }, (_, n) => run(insert(n)));
      blocker.open();
      const exits = await Promise.all(units);
      expect(exits.every(Exit.isSuccess)).toBe(true);
      const found = await rows();
      expect(found.map((r) => r.n)).toEqual(Array.from({ length: 40 }, (_, n) => n));
      // 32 then 8: two shared transactions.
      expect(new Set(found.map((r) => r.txid)).size).toBe(2);
    } finally {
      await runtime.dispose();
    }
  });

  test("a failing unit neither fails nor undoes the others of its batch", async () => {
    const { runtime, run, insert, rows, block } = await setup(`fail_${isolation}`, { lanes: 1, isolation });
    try {
      const blocker = await block();
      const units = [
        run(insert(1)),
        // Its own typed error, after a write of its own that must not stay.
        run((tx) => Effect.andThen(insert(2)(tx), Effect.fail(new Refused({ n: 2 })))),
        run(insert(3)),
        // A statement's error (unique violation on 1), which aborts the transaction it runs in.
        run(insert(1)),
        run(insert(5)),
      ];
      blocker.open();
      const [one, two, three, dup, five] = await Promise.all(units);
      expect(Exit.isSuccess(one!) && Exit.isSuccess(three!) && Exit.isSuccess(five!)).toBe(true);
      expect(two).toEqual(Exit.fail(new Refused({ n: 2 })));
      expect(Exit.isFailure(dup!)).toBe(true);
      expect(String(Exit.isFailure(dup!) ? dup.cause : "")).toContain("duplicate key");
      const found = await rows();
      expect(found.map((r) => r.n)).toEqual([1, 3, 5]);
      expect(new Set(found.map((r) => r.txid)).size).toBe(1);
    } finally {
      await runtime.dispose();
    }
  });

  test("a unit's rows are visible, and its Effect completes, only when its batch commits", async () => {
    const { runtime, run, insert, rows, block } = await setup(`visible_${isolation}`, { lanes: 1, isolation });
    try {
      const blocker = await block();
      let aDone = false;
      const a = run(insert(1)).then(async (exit) => {
        aDone = true;
        return { exit, seen: await rows() };
      });
      const bStarted = gate();
      const bRelease = gate();
      const b = run((tx) =>
        Effect.andThen(
          Effect.promise(async () => {
            bStarted.open();
            await bRelease.opened;
          }),
          insert(2)(tx),
        ),
      );
      blocker.open();
      // B runs after A in the same transaction: A's unit is done, its batch is not.
      await bStarted.opened;
      await Bun.sleep(20);
      expect(aDone).toBe(false);
      expect(await rows()).toEqual([]);
      bRelease.open();
      const { exit, seen } = await a;
      expect(Exit.isSuccess(exit)).toBe(true);
      expect(seen.map((r) => r.n)).toEqual([1, 2]);
      expect(Exit.isSuccess(await b)).toBe(true);
    } finally {
      await runtime.dispose();
    }
  });

  test("read-then-write units on one row in one batch lose no update", async () => {
    const { runtime, run, rows, block } = await setup(`counter_${isolation}`, { lanes: 1, isolation });
    try {
      await admin`insert into ${admin(schema)}.${admin(`counter_${isolation}`)} (n, txid) values (0, 0)`;
      const blocker = await block();
      const bump: Unit<void, never, never> = (tx) =>
        Effect.promise(async () => {
          const [row] = await tx<{ txid: string }[]>`select txid::text from ${tx(`counter_${isolation}`)} where n = 0`;
          await tx`update ${tx(`counter_${isolation}`)} set txid = ${Number(row!.txid) + 1} where n = 0`;
        });
      const units = Array.from({ length: 30 }, () => run(bump));
      blocker.open();
      expect((await Promise.all(units)).every(Exit.isSuccess)).toBe(true);
      expect((await rows())[0]?.txid).toBe("30");
    } finally {
      await runtime.dispose();
    }
  });

  test("connection killed mid-batch: every unit of the batch fails, none is applied, later batches work", async () => {
    const name = `killed_${isolation}`;
    const { runtime, run, insert, rows, block } = await setup(name, { lanes: 1, isolation });
    try {
      const blocker = await block();
      const kStarted = gate();
      const kRelease = gate();
      let pid = 0;
      const units: Array<Promise<Exit.Exit<unknown, unknown>>> = [
        run(insert(1)),
        run((tx) =>
          Effect.promise(async () => {
            const [row] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
            pid = row!.pid;
            await tx`insert into ${tx(name)} (n, txid) values (2, 0)`;
            kStarted.open();
            await kRelease.opened;
            await tx`select 1`;
          }),
        ),
        run(insert(3)),
      ];
      blocker.open();
      await kStarted.opened;
      await admin`select pg_terminate_backend(${pid})`;
      kRelease.open();
      const exits = await Promise.all(units);
      for (const exit of exits) {
        expect(Exit.isFailure(exit)).toBe(true);
        expect(String(Exit.isFailure(exit) ? exit.cause : "")).toContain("the change was not committed");
      }
      expect(exits[0]).toEqual(Exit.fail(new Unavailable({ reason: "database unavailable: the connection was lost; the change was not committed" })));
      expect(await rows()).toEqual([]);
      expect(Exit.isSuccess(await run(insert(4)))).toBe(true);
      expect((await rows()).map((r) => r.n)).toEqual([4]);
    } finally {
      // postgres.js's end waits its whole grace (5 s) once a connection was killed in a transaction.
      await runtime.dispose();
    }
  }, 15_000);

  test("a caller interrupted while its unit waits: the unit is dropped, the others run", async () => {
    const { runtime, run, insert, rows, block } = await setup(`interrupt_${isolation}`, { lanes: 1, isolation });
    try {
      const blocker = await block();
      const first = run(insert(1));
      const fiber = runtime.runFork(Effect.flatMap(Effect.service(GroupCommit), (gc) => gc.run(insert(2))));
      const last = run(insert(3));
      await runtime.runPromise(Fiber.interrupt(fiber));
      blocker.open();
      expect(Exit.isSuccess(await first) && Exit.isSuccess(await last)).toBe(true);
      expect((await rows()).map((r) => r.n)).toEqual([1, 3]);
    } finally {
      await runtime.dispose();
    }
  });
});

test("at release, queued and running units finish; units submitted after fail with Unavailable", async () => {
  const name = "release";
  await admin`create table ${admin(schema)}.${admin(name)} (n int primary key, txid bigint not null)`;
  const runtime = ManagedRuntime.make(layerSql({ url, schema, maxConnections: 4 }));
  try {
    const scope = await runtime.runPromise(Scope.make());
    const services = await runtime.runPromise(Scope.provide(scope)(Layer.build(layerGroupCommit({ lanes: 1 }))));
    const gc = Context.get(services, GroupCommit);
    const run = (unit: Unit<unknown, never, never>) => runtime.runPromiseExit(gc.run(unit));
    const insert = (n: number): Unit<unknown, never, never> => (tx) => Effect.promise(() => tx`insert into ${tx(name)} (n, txid) values (${n}, 0)`);
    const started = gate();
    const release = gate();
    const blocker = run(() => Effect.promise(async () => {
      started.open();
      await release.opened;
    }));
    await started.opened;
    const queuedUnits = [blocker, run(insert(1)), run(insert(2))];
    const closed = runtime.runPromise(Scope.close(scope, Exit.void));
    const late = await run(insert(3));
    expect(late).toEqual(Exit.fail(new Unavailable({ reason: "database unavailable: group commit is shutting down" })));
    release.open();
    await closed;
    expect((await Promise.all(queuedUnits)).every(Exit.isSuccess)).toBe(true);
    const found = await admin<{ n: number }[]>`select n from ${admin(schema)}.${admin(name)} order by n`;
    expect(found.map((r) => r.n)).toEqual([1, 2]);
  } finally {
    await runtime.dispose();
  }
});

describe.each(["rerun", "savepoint"] as const)("group commit (%s), two lanes", (isolation) => {
  test("a unit that loses a deadlock to another batch runs again alone, and every unit commits", async () => {
    const name = `deadlock_${isolation}`;
    const { runtime, run, block } = await setup(name, { lanes: 2, maxBatch: 2, isolation });
    try {
      await admin`insert into ${admin(schema)}.${admin(name)} (n, txid) values (1, 0), (2, 0)`;
      const bump = (n: number): Unit<void, never, never> => (tx) => Effect.promise(() => tx`update ${tx(name)} set txid = txid + 1 where n = ${n}`.then(() => undefined));
      const aHolds = gate();
      const bHolds = gate();
      const holdThen = (first: number, held: ReturnType<typeof gate>, other: ReturnType<typeof gate>): Unit<void, never, never> => (tx) =>
        Effect.promise(async () => {
          await tx`update ${tx(name)} set txid = txid + 1 where n = ${first}`;
          held.open();
          await other.opened;
        });
      const laneA = await block();
      const laneB = await block();
      // Batch A: [hold 1, bump 2]; batch B: [hold 2, bump 1]. Each batch holds its first row when
      // it asks for the other's: a deadlock no unit alone would have.
      const exits = Promise.all([run(holdThen(1, aHolds, bHolds)), run(bump(2)), run(holdThen(2, bHolds, aHolds)), run(bump(1))]);
      laneA.open();
      await aHolds.opened;
      laneB.open();
      expect((await exits).every(Exit.isSuccess)).toBe(true);
      const found = await admin<{ n: number; txid: string }[]>`select n, txid::text from ${admin(schema)}.${admin(name)} order by n`;
      expect(found.map((r) => r.txid)).toEqual(["2", "2"]);
    } finally {
      await runtime.dispose();
    }
  });
});
