/**
 * Running SQL from a handler: the query is a Promise-returning function of the
 * pool, run so that interruption is respected and failures are sorted: a lost
 * or refused connection is `Unavailable` (the caller may retry), anything else
 * (a bad query, a broken constraint the code did not expect) is a defect.
 */
import { Effect } from "effect";
import type postgres from "postgres";
import { Unavailable } from "../errors.js";
import { poolUsage } from "./metrics.js";
import { Sql } from "./sql.js";

/** Runs `run` against the pool; connection trouble → Unavailable, anything else → defect. */
export function query<A>(run: (sql: postgres.Sql) => Promise<A>): Effect.Effect<A, Unavailable, Sql> {
  return Effect.flatMap(Effect.service(Sql), (sql) =>
    Effect.tryPromise({ try: () => measured(sql, run), catch: (cause) => cause }).pipe(
      Effect.catch((cause) =>
        isConnectionFailure(cause)
          ? Effect.fail(new Unavailable({ reason: "database unavailable" }))
          : Effect.die(cause),
      ),
    ),
  );
}

async function measured<A>(sql: postgres.Sql, run: (sql: postgres.Sql) => Promise<A>): Promise<A> {
  const usage = poolUsage(sql);
  const started = performance.now();
  usage.started();
  try {
    const result = await run(sql);
    usage.finished((performance.now() - started) / 1000);
    return result;
  } catch (cause) {
    usage.finished((performance.now() - started) / 1000, isConnectionFailure(cause) ? "connection" : "query");
    throw cause;
  }
}

const connectionCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
]);

/** True for errors that say the database could not be reached, not that the query was wrong. */
export function isConnectionFailure(cause: unknown): boolean {
  if (typeof cause !== "object" || cause === null) return false;
  const code = (cause as { code?: unknown }).code;
  return typeof code === "string" && (connectionCodes.has(code) || code.startsWith("08"));
}
