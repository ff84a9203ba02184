/**
 * postgres.js transactions when their connection is lost, as patched in
 * `patches/postgres@3.4.9.patch` (porsager/postgres#1186, #1215): every query of the transaction
 * settles, and nothing of it runs in the session the pool opens next on the same connection.
 * Unpatched, the first test hangs (queued queries never settle; in trading this held a placement
 * until its deadline) and the second commits a row of a transaction that had failed.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import { startTcpProxy, type TcpProxy } from "../events/testing.js";

const url = new URL(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test");
const table = `connection_loss_${Math.random().toString(36).slice(2, 10)}`;
const admin = postgres(url.toString(), { max: 1, onnotice: () => {} });
let proxy: TcpProxy;

/** A pool of one connection, through the proxy: the connection a lost transaction held is the one reused. */
const poolThroughProxy = () => {
  const through = new URL(url);
  through.hostname = "127.0.0.1";
  through.port = String(proxy.port);
  return postgres(through.toString(), { max: 1, connect_timeout: 5, onnotice: () => {} });
};

/** How a promise ended, or "pending" if it has not within `ms`. */
const settledWithin = (promise: Promise<unknown>, ms: number) =>
  Promise.race([
    promise.then(
      () => "resolved",
      (e: { code?: string }) => `rejected ${e.code}`,
    ),
    Bun.sleep(ms).then(() => "pending"),
  ]);

beforeAll(async () => {
  proxy = await startTcpProxy(url.hostname, Number(url.port || 5432));
  await admin`create table ${admin(table)} (id int primary key)`;
});

afterAll(async () => {
  await admin`drop table if exists ${admin(table)}`;
  await admin.end();
  await proxy?.close();
});

test("queries queued in a transaction settle when its connection is lost", async () => {
  const sql = poolThroughProxy();
  try {
    const queries: Array<Promise<unknown>> = [];
    const transaction = sql.begin(async (tx) => {
      // The first query's statement is described before it runs, so the other two wait in the
      // transaction's own queue, not on the connection.
      queries.push(tx`select pg_sleep(${0.5})`, tx`select ${1}::int`, tx`select ${2}::int`);
      await Promise.all(queries);
    });
    await Bun.sleep(150);
    proxy.cut();
    proxy.restore();

    expect(await settledWithin(transaction, 3000)).toMatch(/^rejected (CONNECTION_CLOSED|ECONNRESET)$/);
    for (const query of queries) expect(await settledWithin(query, 100)).toMatch(/^rejected /);
    // The pool is usable again.
    expect([...(await sql`select 1 as one`)]).toEqual([{ one: 1 }]);
  } finally {
    await sql.end({ timeout: 1 });
  }
});

test("nothing of a lost transaction runs in the next session of its connection", async () => {
  const sql = poolThroughProxy();
  try {
    let resume!: () => void;
    const paused = new Promise<void>((resolve) => (resume = resolve));
    let started!: () => void;
    const inside = new Promise<void>((resolve) => (started = resolve));
    // Wrapped: a promise resolved with a query would take on the query's outcome.
    let issued!: (late: { readonly insert: Promise<unknown> }) => void;
    const late = new Promise<{ readonly insert: Promise<unknown> }>((resolve) => (issued = resolve));
    const transaction = sql.begin(async (tx) => {
      await tx`insert into ${tx(table)} values (1)`;
      started();
      await paused;
      const insert = tx`insert into ${tx(table)} values (2)`;
      issued({ insert });
      await insert;
    });
    await inside;
    proxy.cut();
    expect(await settledWithin(transaction, 3000)).toMatch(/^rejected (CONNECTION_CLOSED|ECONNRESET)$/);
    proxy.restore();
    // The pool's only connection is opened again, for this query, in a new session.
    expect([...(await sql`select 1 as one`)]).toEqual([{ one: 1 }]);

    // The transaction's callback goes on: its next statement must fail, not run in that session
    // (where it would commit on its own), and so must the ROLLBACK it sends.
    resume();
    expect(await settledWithin((await late).insert, 1000)).toBe("rejected CONNECTION_CLOSED");
    await Bun.sleep(100);
    expect([...(await admin`select id from ${admin(table)} order by id`)]).toEqual([]);
    expect([...(await sql`select 2 as two`)]).toEqual([{ two: 2 }]);
  } finally {
    await sql.end({ timeout: 1 });
  }
});

test("a pool whose transaction lost its connection ends at once, without waiting out its timeout", async () => {
  const sql = poolThroughProxy();
  const transaction = sql.begin(async (tx) => {
    const [row] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
    await admin`select pg_terminate_backend(${row!.pid})`;
    await tx`select 1`;
  });
  expect(await settledWithin(transaction, 3000)).toMatch(/^rejected /);
  // Unpatched, the lost query stayed the connection's current one and end() waited all 5 s for it.
  expect(await settledWithin(sql.end({ timeout: 5 }), 2000)).toBe("resolved");
});
