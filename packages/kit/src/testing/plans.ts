/**
 * The plans a connection keeps for its prepared statements. PostgreSQL plans a prepared statement
 * for its values the first few times, then settles on one generic plan and keeps it until the
 * statistics of a table it reads change (an ANALYZE). A plan made while a table was small can so
 * outlive the table's growth: a test looks at the plan a statement settled on.
 */
import type postgres from "postgres";

/** One prepared statement of the connection, and the plan it now runs with. */
export interface CachedPlan {
  readonly statement: string;
  /** How often it ran with its generic plan: 0 means it has not settled on one yet. */
  readonly genericPlans: number;
  /** EXPLAIN's text of the plan it now runs with. */
  readonly plan: string;
}

/**
 * The plans of the prepared statements whose text contains `fragment`. Prepared statements belong
 * to a connection: `sql` must be a pool of one connection (`max: 1`), the one that ran them.
 */
export async function cachedPlans(sql: postgres.Sql, fragment: string): Promise<CachedPlan[]> {
  const statements = await sql<Array<{ name: string; statement: string; types: string[] }>>`
    select name, statement, parameter_types::text[] as types from pg_prepared_statements
    where statement like ${`%${fragment}%`} and statement not like '%pg_prepared_statements%'`;
  const plans: CachedPlan[] = [];
  for (const { name, statement, types } of statements) {
    // Typed nulls: a statement that settled on its generic plan runs it whatever the values.
    const args = types.map((type) => `null::${type}`).join(", ");
    const lines = await sql.unsafe<Array<{ "QUERY PLAN": string }>>(`explain execute "${name.replaceAll('"', '""')}"(${args})`);
    const [counts] = await sql<Array<{ generic_plans: string }>>`select generic_plans::text from pg_prepared_statements where name = ${name}`;
    plans.push({ statement, genericPlans: Number(counts?.generic_plans ?? 0), plan: lines.map((l) => l["QUERY PLAN"]).join("\n") });
  }
  return plans;
}
