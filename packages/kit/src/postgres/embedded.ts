/**
 * The embedded default: PGlite (PostgreSQL compiled to WASM) behind a Postgres-protocol socket on
 * 127.0.0.1, so the same postgres.js code path serves when no DATABASE_URL is configured.
 *
 * PGlite is one backend with one session, whatever the number of sockets: pglite-socket
 * multiplexes clients onto it, so session state (search_path, prepared statements, an open
 * transaction's visibility) would be shared between them. Use it with exactly one connection:
 * `layerSql({ ..., maxConnections: 1 })`, which `layerDatabase` does. The server accepts a single
 * client; a second one is left unanswered and fails `layerSql`'s start-up check.
 */
import { mkdir } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { Context, Duration, Effect, Layer } from "effect";
import { PostgresUnavailable } from "./errors.js";

/** Where the embedded database answers: a postgres.js URL for one connection. */
export class EmbeddedPostgres extends Context.Service<EmbeddedPostgres, { readonly url: string }>()(
  "@meridian/kit/EmbeddedPostgres",
) {}

/**
 * Runs PGlite with its data in `dataDir` (created if missing, kept across restarts) behind a
 * socket on 127.0.0.1 at a free port; stops the socket and closes PGlite on release.
 * Only one layer may use a given `dataDir` at a time.
 */
export const layerEmbeddedPostgres = (dataDir: string): Layer.Layer<EmbeddedPostgres, PostgresUnavailable> =>
  Layer.effect(
    EmbeddedPostgres,
    Effect.gen(function* () {
      const db = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: async () => {
            await mkdir(dataDir, { recursive: true });
            return await PGlite.create(dataDir);
          },
          catch: (cause) => unavailable(dataDir, "PGlite could not start", cause),
        }),
        (db) => Effect.promise(() => db.close()),
      );
      const server = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: async () => {
            // Port 0: the OS picks a free port, read back once listening.
            const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 1 });
            await server.start();
            return server;
          },
          catch: (cause) => unavailable(dataDir, "the PGlite socket could not listen", cause),
        }),
        // stop() waits for every accepted socket to close. A client refused while the one
        // connection was busy (see above) can be accepted late, once stop() has begun, and be left
        // half-open by a client that gave up on it: bound the wait rather than hang the shutdown.
        (server) => Effect.promise(() => server.stop()).pipe(Effect.timeoutOption(stopTimeout)),
      );
      return { url: `postgres://postgres@${server.getServerConn()}/postgres` };
    }),
  );

const stopTimeout = Duration.seconds(2);

const unavailable = (dataDir: string, what: string, cause: unknown): PostgresUnavailable =>
  new PostgresUnavailable({
    address: dataDir,
    message: `${what} (data in ${dataDir}): ${cause instanceof Error ? cause.message : String(cause)}`,
  });
