/**
 * PostgreSQL for services: the schema-scoped pool, the migration runner, the embedded default,
 * group commit.
 */
export { layerDatabase, layerMigratedDatabase, type DatabaseOptions } from "./database.js";
export { EmbeddedPostgres, layerEmbeddedPostgres } from "./embedded.js";
export { MigrationError, PostgresUnavailable, type PostgresError } from "./errors.js";
export { migrate } from "./migrations.js";
export { layerSql, Sql, type SqlOptions } from "./sql.js";
export { isConnectionFailure, query } from "./query.js";
export { layerSqlHealth } from "./health.js";
export { layerSqlMetrics } from "./metrics.js";
export { GroupCommit, layerGroupCommit, type GroupCommitOptions, type GroupCommitShape, type Unit } from "./group-commit.js";
