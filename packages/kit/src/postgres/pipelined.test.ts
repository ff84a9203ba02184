import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { pipelinedTransaction } from "./pipelined.js";

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const table = `pipelined_${Math.random().toString(36).slice(2, 10)}`;
// One connection: a transaction left open or aborted would show in the next test's statements.
const sql = postgres(url, { max: 1, onnotice: () => {} });

beforeAll(async () => {
  await sql`create table ${sql(table)} (id int primary key, note text not null)`;
});

afterAll(async () => {
  await sql`drop table if exists ${sql(table)}`;
  await sql.end();
});

const ids = async () => (await sql<{ id: number }[]>`select id from ${sql(table)} order by id`).map((r) => r.id);

describe("pipelinedTransaction", () => {
  test("commits the writes sent with commitWith and returns their results", async () => {
    const results = await pipelinedTransaction(sql, async (tx, commitWith) => {
      const [counted] = await tx<{ n: number }[]>`select count(*)::int as n from ${tx(table)}`;
      return commitWith([
        tx<{ note: string }[]>`insert into ${tx(table)} values (1, ${`saw ${counted!.n}`}) returning note`,
        tx`insert into ${tx(table)} values (2, 'b')`,
      ]);
    });
    expect((results[0] as unknown as ReadonlyArray<{ note: string }>)[0]!.note).toBe("saw 0");
    expect(await ids()).toEqual([1, 2]);
  });

  test("a failed write rolls back the others of the transaction and is rethrown", async () => {
    const failed = pipelinedTransaction(sql, (tx, commitWith) =>
      commitWith([tx`insert into ${tx(table)} values (3, 'c')`, tx`insert into ${tx(table)} values (1, 'duplicate')`]),
    );
    await expect(failed).rejects.toMatchObject({ code: "23505" });
    expect(await ids()).toEqual([1, 2]);
    // The connection is back in the pool outside any transaction: what it writes next is
    // committed at once, as another connection sees.
    await sql`insert into ${sql(table)} values (4, 'd')`;
    const other = postgres(url, { max: 1, onnotice: () => {} });
    try {
      expect((await other<{ id: number }[]>`select id from ${other(table)} order by id`).map((r) => r.id)).toEqual([1, 2, 4]);
    } finally {
      await other.end();
    }
  });

  test("work that throws rolls back what it wrote", async () => {
    const failed = pipelinedTransaction(sql, async (tx) => {
      await tx`insert into ${tx(table)} values (5, 'e')`;
      throw new Error("refused");
    });
    await expect(failed).rejects.toThrow("refused");
    expect(await ids()).toEqual([1, 2, 4]);
  });

  test("work that never calls commitWith commits when it resolves", async () => {
    const result = await pipelinedTransaction(sql, async (tx) => {
      await tx`insert into ${tx(table)} values (6, 'f')`;
      return "done";
    });
    expect(result).toBe("done");
    expect(await ids()).toEqual([1, 2, 4, 6]);
  });

  test("statements issued together run in the transaction, after the lock they follow", async () => {
    // A second connection holds the row's lock and changes it; the pipelined read behind the
    // lock must see the change committed while it waited.
    const other = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const holder = await other.reserve();
      await holder`begin`;
      await holder`update ${holder(table)} set note = 'changed' where id = 1`;
      const read = pipelinedTransaction(sql, async (tx) => {
        const [, [row]] = await Promise.all([
          tx`select id from ${tx(table)} where id = 1 for update`,
          tx<{ note: string }[]>`select note from ${tx(table)} where id = 1`,
        ]);
        return row!.note;
      });
      await Bun.sleep(100);
      await holder`commit`;
      holder.release();
      expect(await read).toBe("changed");
    } finally {
      await other.end();
    }
  });
});
