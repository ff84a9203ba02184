/**
 * The database as a readiness dependency: `select 1` on the pool, for as long as the Layer lives.
 */
import { Layer } from "effect";
import { registerDependency, type Health } from "../health.js";
import { Sql } from "./sql.js";
import { Effect } from "effect";

/** Registers "postgres" (required) with the health registry while the pool is up. */
export const layerSqlHealth: Layer.Layer<never, never, Sql | Health> = Layer.effectDiscard(
  Effect.flatMap(Effect.service(Sql), (sql) =>
    registerDependency({
      name: "postgres",
      required: true,
      check: async () => {
        await sql`select 1`;
      },
    }),
  ),
);
