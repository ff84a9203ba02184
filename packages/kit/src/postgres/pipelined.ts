/**
 * A transaction with fewer round trips than postgres.js's `sql.begin`: there `BEGIN` and
 * `COMMIT` each travel alone, so a transaction of two dependent steps costs four round trips.
 * Here `BEGIN` goes out with the first statements the work issues (same tick, same write), and
 * `commitWith(last)` sends `COMMIT` right behind the last statements: two round trips.
 *
 * Statements run in the order issued on one reserved connection, each (read committed) with a
 * snapshot taken when it starts, so a statement issued after a `for update` sees what committed
 * before the lock was granted, exactly as if it had waited for the lock's answer first.
 *
 * Not for production paths. If the connection is lost between two round trips, postgres.js
 * takes it back and, when callers are waiting for a connection, connects it again for one of
 * them; statements `work` issues afterwards can then run on that new session, outside this
 * transaction. postgres.js's own `sql.begin` ends the moment its connection closes, so the
 * services use it (the relay hung, and a placement could have escaped its account lock, when
 * PostgreSQL restarted under load). Kept for the events benchmark's comparison of producer styles.
 */
import type postgres from "postgres";
import { isConnectionFailure } from "./query.js";

/** Ends the transaction with `COMMIT` sent behind `last` (already issued); resolves to their results. */
export type CommitWith = <const T extends ReadonlyArray<Promise<unknown>>>(last: T) => Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }>;

/** postgres.js stamps every result with the server session (backend pid) that produced it. */
type Stamped = { readonly state?: { readonly pid?: number } };

/**
 * Runs `work` in a transaction on one connection of the pool. When `work` resolves without
 * having called `commitWith`, the transaction commits then; when it (or any statement) fails,
 * it rolls back and the failure is rethrown. A failed statement before `COMMIT` makes PostgreSQL
 * answer that `COMMIT` with a rollback, so nothing of it is kept.
 */
export async function pipelinedTransaction<A>(
  sql: postgres.Sql,
  work: (tx: postgres.TransactionSql, commitWith: CommitWith) => Promise<A>,
): Promise<A> {
  const reserved = await sql.reserve();
  const tx = reserved as unknown as postgres.TransactionSql;
  let ended = false;
  // Sent now (postgres.js queries are lazy until executed or awaited), so it goes out with the
  // statements `work` issues in this tick; its failure is reported where it is awaited.
  const begun = tx`begin`.execute() as unknown as Promise<Stamped>;
  begun.catch(() => {});
  const commitWith: CommitWith = async (last) => {
    ended = true;
    const [, ...results] = await Promise.all([begun, ...last, tx`commit`]);
    return results.slice(0, last.length) as never;
  };
  let release = true;
  try {
    const result = await work(tx, commitWith);
    await begun;
    if (!ended) {
      ended = true;
      await tx`commit`;
    }
    return result;
  } catch (error) {
    // A lost connection ended the transaction with it, and postgres.js has taken the connection
    // back (it may be reconnecting it for another caller): send nothing more on it, release
    // nothing. Otherwise, after a failed COMMIT or a statement failed in a pipeline there may be
    // no transaction left: PostgreSQL answers ROLLBACK with a warning then, not an error; the
    // connection goes back to the pool only when the session that began the transaction
    // answered the ROLLBACK. (So `work` must not fail with connection errors of other systems.)
    if (isConnectionFailure(error)) {
      release = false;
    } else {
      const session = await begun.then((b) => b.state?.pid, () => undefined);
      const rolledBack = await (tx`rollback` as unknown as Promise<Stamped>).then((r) => r.state?.pid, () => undefined);
      release = session !== undefined && rolledBack === session;
    }
    throw error;
  } finally {
    if (release) reserved.release();
  }
}
