/**
 * The securities table: the SQL of the universe service, next to the code that uses it.
 */
import { Context, Effect, Layer } from "effect";
import { query, type Sql } from "@meridian/kit/postgres";
import type { Unavailable } from "@meridian/kit";
import type { Sector } from "@meridian/sdk/universe";
import type { SecurityFilter } from "./domain/security.js";

/** A row of the securities table. */
export interface SecurityRow {
  readonly symbol: string;
  readonly name: string;
  readonly sector: Sector;
  readonly currency: string;
  readonly active: boolean;
}

/** What the handlers need from storage. */
export interface SecurityStoreShape {
  /** Securities matching the filter, ordered by symbol, after `after`, at most `limit`. */
  readonly list: (filter: SecurityFilter, after: string | undefined, limit: number) => Effect.Effect<SecurityRow[], Unavailable>;
  readonly get: (symbol: string) => Effect.Effect<SecurityRow | undefined, Unavailable>;
  /** Inserts or replaces by symbol, atomically; says whether the symbol was new. */
  readonly upsert: (row: SecurityRow) => Effect.Effect<{ row: SecurityRow; created: boolean }, Unavailable>;
}

/** Storage of securities. */
export class SecurityStore extends Context.Service<SecurityStore, SecurityStoreShape>()("@meridian/universe/SecurityStore") {}

/** The PostgreSQL store, over the service's pool. */
export const layerSecurityStore: Layer.Layer<SecurityStore, never, Sql> = Layer.effect(
  SecurityStore,
  Effect.map(Effect.context<Sql>(), (context) => {
    const run = <A>(effect: Effect.Effect<A, Unavailable, Sql>) => Effect.provideContext(effect, context);
    return {
      list: (filter, after, limit) =>
        run(
          query(
            (sql) => sql<SecurityRow[]>`
              select symbol, name, sector, currency, active from securities
              where true
                ${filter.sector === undefined ? sql`` : sql`and sector = ${filter.sector}`}
                ${filter.currency === undefined ? sql`` : sql`and currency = ${filter.currency}`}
                ${filter.active === undefined ? sql`` : sql`and active = ${filter.active}`}
                ${after === undefined ? sql`` : sql`and symbol > ${after}`}
              order by symbol
              limit ${limit}`,
          ),
        ).pipe(Effect.map((rows) => [...rows])),
      get: (symbol) =>
        run(
          query((sql) => sql<SecurityRow[]>`
            select symbol, name, sector, currency, active from securities where symbol = ${symbol}`),
        ).pipe(Effect.map((rows) => rows[0])),
      upsert: (row) =>
        run(
          query((sql) => sql<Array<SecurityRow & { created: boolean }>>`
            insert into securities (symbol, name, sector, currency, active)
            values (${row.symbol}, ${row.name}, ${row.sector}, ${row.currency}, ${row.active})
            on conflict (symbol) do update
              set name = excluded.name, sector = excluded.sector, currency = excluded.currency,
                  active = excluded.active, updated_at = now()
            returning symbol, name, sector, currency, active, (xmax = 0) as created`),
        ).pipe(
          Effect.map(([result]) => {
            if (result === undefined) throw new Error("upsert returned no row");
            const { created, ...stored } = result;
            return { row: stored, created };
          }),
        ),
    };
  }),
);
