/**
 * A transaction with fewer round trips than postgres.js's `sql.begin`: there `BEGIN` and
 * `COMMIT` each travel alone, so a transaction of two dependent steps costs four round trips.
 * Here `BEGIN` goes out with the first statements the work issues (same tick, same write), and
 * `commitWith(last)` sends `COMMIT` right behind the last statements: two round trips.
 *
 * Statements run in the order issued on one reserved connection, each (read committed) with a
 * snapshot taken when it starts, so a statement issued after a `for update` sees what committed
 * before the lock was granted, exactly as if it had waited for the lock's answer first.
 */
import type postgres from "postgres";

/** Ends the transaction with `COMMIT` sent behind `last` (already issued); resolves to their results. */
export type CommitWith = <const T extends ReadonlyArray<Promise<unknown>>>(last: T) => Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }>;

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
  const begun = tx`begin`.execute();
  begun.catch(() => {});
  const commitWith: CommitWith = async (last) => {
    ended = true;
    const [, ...results] = await Promise.all([begun, ...last, tx`commit`]);
    return results.slice(0, last.length) as never;
  };
  try {
    const result = await work(tx, commitWith);
    await begun;
    if (!ended) {
      ended = true;
      await tx`commit`;
    }
    return result;
  } catch (error) {
    // After a failed COMMIT or a statement failed in a pipeline there may be no transaction
    // left: PostgreSQL answers ROLLBACK with a warning then, not an error.
    await tx`rollback`.catch(() => {});
    throw error;
  } finally {
    reserved.release();
  }
}
