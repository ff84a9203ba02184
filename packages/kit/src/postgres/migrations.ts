/**
 * The one migration runner: `NNNN_name.sql` files applied in order, once, under an advisory lock,
 * each in its own transaction with its record in `schema_migrations`; never edited once landed.
 */
import { createHash } from "node:crypto";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { Effect } from "effect";
import type postgres from "postgres";
import { MigrationError } from "./errors.js";
import { Sql } from "./sql.js";

interface Migration {
  readonly version: number;
  readonly name: string;
  readonly file: string;
  readonly text: string;
  readonly checksum: string;
}

interface AppliedRecord {
  readonly version: number;
  readonly checksum: string;
}

const fileNamePattern = /^(\d{4})_([A-Za-z0-9_]+)\.sql$/;

/**
 * Applies the pending migrations of `dir` in version order, each exactly once even with concurrent
 * starters, each atomically with its record; fails if a file is misnamed or an applied one changed.
 * Returns the versions it applied (empty when up to date).
 */
export const migrate = Effect.fn("migrate")(function* (dir: string) {
  const sql = yield* Sql;
  const migrations = yield* readMigrations(dir);
  const schema = yield* currentSchema(sql);
  yield* inTransaction(sql, schema, async (tx) => {
    await tx`
      create table if not exists schema_migrations (
        version int primary key,
        name text not null,
        checksum text not null,
        applied_at timestamptz not null default now()
      )`;
  });
  const recorded = yield* query(() => sql<AppliedRecord[]>`select version, checksum from schema_migrations`);
  const appliedBefore = new Map(recorded.map((r) => [r.version, r.checksum]));
  const applied: number[] = [];
  for (const migration of migrations) {
    const checksum = appliedBefore.get(migration.version);
    if (checksum !== undefined) {
      yield* verifyUnchanged(migration, checksum);
      continue;
    }
    // Another starter may have applied it since the read above: decide again under the lock.
    const outcome = yield* inTransaction(sql, schema, async (tx) => {
      const [record] = await tx<AppliedRecord[]>`
        select version, checksum from schema_migrations where version = ${migration.version}`;
      if (record !== undefined) return record;
      await tx.unsafe(migration.text);
      await tx`
        insert into schema_migrations (version, name, checksum)
        values (${migration.version}, ${migration.name}, ${migration.checksum})`;
      return "applied" as const;
    }).pipe(
      Effect.mapError(
        (error) =>
          new MigrationError({
            message: `migration ${migration.file} failed: ${error.message}`,
            file: migration.file,
            version: migration.version,
            cause: error.cause,
          }),
      ),
    );
    if (outcome === "applied") applied.push(migration.version);
    else yield* verifyUnchanged(migration, outcome.checksum);
  }
  return applied as ReadonlyArray<number>;
});

const readMigrations = (dir: string): Effect.Effect<ReadonlyArray<Migration>, MigrationError> =>
  Effect.gen(function* () {
    const names = yield* Effect.tryPromise({
      try: () => readdir(dir),
      catch: (cause) => new MigrationError({ message: `cannot read migrations directory ${dir}`, cause }),
    });
    const byVersion = new Map<number, Migration>();
    // Dotfiles (.gitkeep) are not migrations; anything else must be one.
    for (const file of names.filter((n) => !n.startsWith(".")).sort()) {
      const match = fileNamePattern.exec(file);
      if (match === null) {
        return yield* new MigrationError({
          message: `${file} in ${dir} is not a migration file name (expected NNNN_name.sql)`,
          file,
        });
      }
      const version = Number(match[1]);
      const duplicate = byVersion.get(version);
      if (duplicate !== undefined) {
        return yield* new MigrationError({
          message: `${file} and ${duplicate.file} share version ${version}`,
          file,
          version,
        });
      }
      const bytes = yield* Effect.tryPromise({
        try: () => readFile(join(dir, file)),
        catch: (cause) => new MigrationError({ message: `cannot read ${file}`, file, version, cause }),
      });
      byVersion.set(version, {
        version,
        name: match[2] ?? "",
        file,
        text: bytes.toString("utf8"),
        checksum: createHash("sha256").update(bytes).digest("hex"),
      });
    }
    return [...byVersion.values()].sort((a, b) => a.version - b.version);
  });

const verifyUnchanged = (
  migration: Migration,
  recordedChecksum: string,
): Effect.Effect<void, MigrationError> =>
  migration.checksum === recordedChecksum
    ? Effect.void
    : Effect.fail(
        new MigrationError({
          message: `${migration.file} was edited after it was applied; add a new migration instead`,
          file: migration.file,
          version: migration.version,
        }),
      );

const currentSchema = (sql: postgres.Sql): Effect.Effect<string, MigrationError> =>
  query(() => sql<{ schema: string | null }[]>`select current_schema() as schema`).pipe(
    Effect.flatMap(([row]) =>
      row?.schema == null
        ? Effect.fail(
            new MigrationError({ message: "no schema is selected: the search_path schema does not exist" }),
          )
        : Effect.succeed(row.schema),
    ),
  );

// The lock is transaction-scoped, so it is released with the commit or rollback whatever happens,
// even when the connection dies; keying on the schema serialises the starters of one service only.
const inTransaction = <A>(
  sql: postgres.Sql,
  schema: string,
  body: (tx: postgres.TransactionSql) => Promise<A>,
): Effect.Effect<A, MigrationError> =>
  query(
    () =>
      sql.begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(hashtext('meridian.migrations'), hashtext(${schema}))`;
        return body(tx);
      }) as Promise<A>,
  );

const query = <A>(run: () => Promise<A>): Effect.Effect<A, MigrationError> =>
  Effect.tryPromise({
    try: run,
    catch: (cause) =>
      new MigrationError({ message: cause instanceof Error ? cause.message : String(cause), cause }),
  });
