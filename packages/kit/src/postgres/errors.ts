/**
 * The expected failures of the kit's PostgreSQL part: start-up ones, never sent on the wire.
 */
import { Data } from "effect";

/**
 * The database could not be reached or did not answer at start-up. `address` is `host:port` (a
 * socket path, or the embedded data directory); the message never contains the password.
 */
export class PostgresUnavailable extends Data.TaggedError("PostgresUnavailable")<{
  readonly address: string;
  readonly message: string;
}> {}

/**
 * A migration could not be read, validated or applied; `file` and `version` name the culprit when
 * there is one. Nothing of a failed migration stays applied.
 */
export class MigrationError extends Data.TaggedError("MigrationError")<{
  readonly message: string;
  readonly file?: string;
  readonly version?: number;
  readonly cause?: unknown;
}> {}

/** Every expected failure of the kit's PostgreSQL modules. */
export type PostgresError = PostgresUnavailable | MigrationError;
