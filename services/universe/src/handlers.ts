/**
 * UniverseService's RPCs → the security rules and the store. Nothing else:
 * validation failures become InvalidArgument with every field named, a missing
 * symbol becomes UnknownSymbol.
 */
import { Effect } from "effect";
import { create } from "@bufbuild/protobuf";
import { implement, InvalidArgument, nextPageToken, readPage } from "@meridian/kit";
import { SecuritySchema, Universe, type Security } from "@meridian/sdk/universe";
import { checkSymbol, readFilter, validateSecurity, type Violation } from "./domain/security.js";
import { UnknownSymbol } from "./errors.js";
import { SecurityStore, type SecurityRow } from "./store.js";

/** ListSecurities pages: 50 by default, at most 500. */
export const pageLimits = { defaultSize: 50, maxSize: 500 } as const;

/** The universe service's handlers, bound to a SecurityStore. */
export const universeHandlers = Effect.gen(function* () {
  const store = yield* Effect.service(SecurityStore);
  return yield* implement(Universe, {
    listSecurities: (request) =>
      Effect.gen(function* () {
        const { filter, violations } = readFilter(request);
        const page = yield* readPage<string>(request.page, pageLimits, filter).pipe(
          Effect.catchTag("InvalidArgument", (e) => Effect.fail(merge(violations, e))),
        );
        yield* failIfAny(violations);
        // One extra row tells whether a next page exists.
        const rows = yield* store.list(filter, page.after, page.size + 1);
        const items = rows.slice(0, page.size);
        return {
          securities: items.map(toSecurity),
          page: { nextPageToken: nextPageToken(items.at(-1)?.symbol, rows.length > page.size, filter) },
        };
      }),
    getSecurity: (request) =>
      Effect.gen(function* () {
        yield* failIfAny(checkSymbol(request.symbol, "symbol"));
        const row = yield* store.get(request.symbol);
        if (row === undefined) return yield* new UnknownSymbol({ symbol: request.symbol });
        return { security: toSecurity(row) };
      }),
    upsertSecurity: (request) =>
      Effect.gen(function* () {
        yield* failIfAny(validateSecurity(request.security));
        const security = request.security!;
        const { row, created } = yield* store.upsert({
          symbol: security.symbol,
          name: security.name.trim(),
          sector: security.sector,
          currency: security.currency,
          active: security.active,
        });
        return { security: toSecurity(row), created };
      }),
  });
});

function failIfAny(violations: Violation[]): Effect.Effect<void, InvalidArgument> {
  return violations.length === 0 ? Effect.void : Effect.fail(new InvalidArgument({ fieldViolations: violations }));
}

function merge(violations: Violation[], error: InvalidArgument): InvalidArgument {
  return new InvalidArgument({ fieldViolations: [...violations, ...error.fieldViolations] });
}

function toSecurity(row: SecurityRow): Security {
  return create(SecuritySchema, row);
}
