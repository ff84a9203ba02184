/**
 * The service's PostgreSQL pool (postgres.js): one schema per service, checked at start-up,
 * ended with the Layer's scope.
 */
import { Context, Duration, Effect, Layer } from "effect";
import postgres from "postgres";
import { PostgresUnavailable } from "./errors.js";

export type { PostgresError } from "./errors.js";

/** The postgres.js tagged-template client, every connection of which works in one schema. */
export class Sql extends Context.Service<Sql, postgres.Sql>()("@meridian/kit/Sql") {}

/** How to reach the database and which schema the service owns. */
export interface SqlOptions {
  readonly url: string;
  readonly schema: string;
  /** Pool size (default 10). Must be 1 against embedded PGlite: see `layerEmbeddedPostgres`. */
  readonly maxConnections?: number;
  /** Bound on opening a connection and on the start-up check (default 10). */
  readonly connectTimeoutSeconds?: number;
  /** `application_name` of the connections, as pg_stat_activity shows them (default postgres.js's). */
  readonly applicationName?: string;
}

const defaultMaxConnections = 10;
const defaultConnectTimeoutSeconds = 10;
// Lets in-flight queries finish at shutdown; past it connections are cut.
const closeTimeoutSeconds = 5;

/**
 * Provides a pool whose connections all use `schema` (created if missing) as search_path, proven
 * to answer at start-up (else `PostgresUnavailable`, never naming the password), ended on release.
 */
export const layerSql = (options: SqlOptions): Layer.Layer<Sql, PostgresUnavailable> =>
  Layer.effect(
    Sql,
    Effect.gen(function* () {
      const timeoutSeconds = options.connectTimeoutSeconds ?? defaultConnectTimeoutSeconds;
      const sql = yield* Effect.acquireRelease(openPool(options, timeoutSeconds), (sql) =>
        Effect.promise(() => sql.end({ timeout: closeTimeoutSeconds })),
      );
      const address = addressOf(sql);
      yield* Effect.tryPromise({
        try: () => prepareSession(sql, options.schema),
        catch: (cause) =>
          new PostgresUnavailable({
            address,
            message: `PostgreSQL at ${address} is unavailable: ${redact(describe(cause), sql)}`,
          }),
      }).pipe(
        Effect.timeoutOrElse({
          duration: Duration.seconds(timeoutSeconds),
          orElse: () =>
            Effect.fail(
              new PostgresUnavailable({
                address,
                message: `PostgreSQL at ${address} did not answer within ${timeoutSeconds} s`,
              }),
            ),
        }),
        // A pool that never answered has nothing worth draining: cut it now, not after the grace.
        Effect.tapError(() => Effect.promise(() => sql.end({ timeout: 0 }))),
      );
      return sql;
    }),
  );

const openPool = (options: SqlOptions, timeoutSeconds: number) =>
  Effect.try({
    try: () =>
      postgres(options.url, {
        max: options.maxConnections ?? defaultMaxConnections,
        connect_timeout: timeoutSeconds,
        // Honoured by PostgreSQL for every new connection; pglite-socket ignores it (see below).
        connection: {
          search_path: quoteIdentifier(options.schema),
          ...(options.applicationName === undefined ? {} : { application_name: options.applicationName }),
        },
        // NOTICEs ("schema already exists, skipping"…) are expected noise, not events to log.
        onnotice: () => {},
      }),
    // The parser's error can quote the URL, password included: say only that it is malformed.
    catch: () =>
      new PostgresUnavailable({
        address: "(unparsable URL)",
        message: "the PostgreSQL URL cannot be parsed",
      }),
  });

// `select 1` proves the server answers before anything else is attempted.
const prepareSession = async (sql: postgres.Sql, schema: string): Promise<void> => {
  await sql`select 1`;
  const [found] = await sql`select 1 from pg_namespace where nspname = ${schema}`;
  if (found === undefined) {
    // Concurrent starters may both see the schema missing; the lock makes the second one wait
    // and then skip, where a bare IF NOT EXISTS can still fail on pg_namespace's unique index.
    await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(hashtext('meridian.schema'), hashtext(${schema}))`;
      await tx`create schema if not exists ${tx(schema)}`;
    });
  }
  // pglite-socket ignores start-up parameters, and PGlite has one session shared by every
  // connection (kept across reconnects): setting search_path in the session is what applies there.
  await sql`select set_config('search_path', ${quoteIdentifier(schema)}, false)`;
};

const quoteIdentifier = (name: string): string => `"${name.replaceAll('"', '""')}"`;

const addressOf = (sql: postgres.Sql): string => {
  const { host, port, path } = sql.options as postgres.Sql["options"] & { path?: string | false };
  if (typeof path === "string" && path !== "") return path;
  return host.map((h, i) => `${h}:${port[i] ?? port[0]}`).join(",");
};

const describe = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause));

// Driver and server messages do not quote the password; this makes sure of it.
const redact = (text: string, sql: postgres.Sql): string => {
  const pass: unknown = (sql.options as { pass: unknown }).pass;
  if (typeof pass !== "string" || pass === "") return text;
  return text.replaceAll(pass, "***").replaceAll(encodeURIComponent(pass), "***");
};
