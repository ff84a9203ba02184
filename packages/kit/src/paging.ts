/**
 * Paging for list methods (meridian.common.v1.PageRequest): page sizes with a
 * default and a maximum, and opaque page tokens that carry the cursor and are
 * bound to the request's filters, so a token cannot be replayed against another query.
 */
import { Effect } from "effect";
import type { PageRequest } from "@meridian/sdk/common";
import { InvalidArgument } from "./errors.js";

/** The size limits of one list method. */
export interface PageLimits {
  readonly defaultSize: number;
  readonly maxSize: number;
}

/** A decoded page request: how many items, and after which cursor (undefined: from the start). */
export interface Page<Cursor> {
  readonly size: number;
  readonly after: Cursor | undefined;
}

/**
 * Reads a PageRequest: size 0 → the default; negative or over the maximum → InvalidArgument on
 * `<field>.page_size`; a token that is malformed or was made for other filters → InvalidArgument on `<field>.page_token`.
 */
export function readPage<Cursor>(
  page: PageRequest | undefined,
  limits: PageLimits,
  filters: unknown,
  field = "page",
): Effect.Effect<Page<Cursor>, InvalidArgument> {
  const violations: Array<{ field: string; description: string }> = [];
  const requested = page?.pageSize ?? 0;
  if (requested < 0 || requested > limits.maxSize) {
    violations.push({ field: `${field}.page_size`, description: `must be between 0 and ${limits.maxSize}` });
  }
  let after: Cursor | undefined;
  const token = page?.pageToken ?? "";
  if (token !== "") {
    const decoded = decodeToken<Cursor>(token);
    if (decoded === undefined) {
      violations.push({ field: `${field}.page_token`, description: "is not a page token this method issued" });
    } else if (decoded.f !== filterKey(filters)) {
      violations.push({ field: `${field}.page_token`, description: "was issued for other filters" });
    } else {
      after = decoded.a;
    }
  }
  if (violations.length > 0) return Effect.fail(new InvalidArgument({ fieldViolations: violations }));
  return Effect.succeed({ size: requested === 0 ? limits.defaultSize : requested, after });
}

/** The token of the page after the one that ended at `last`; empty when there is no next page. */
export function nextPageToken<Cursor>(last: Cursor | undefined, hasMore: boolean, filters: unknown): string {
  if (!hasMore || last === undefined) return "";
  return Buffer.from(JSON.stringify({ v: 1, a: last, f: filterKey(filters) })).toString("base64url");
}

function decodeToken<Cursor>(token: string): { a: Cursor; f: string } | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { v?: unknown; a?: Cursor; f?: unknown };
    if (parsed.v !== 1 || parsed.a === undefined || typeof parsed.f !== "string") return undefined;
    return { a: parsed.a, f: parsed.f };
  } catch {
    return undefined;
  }
}

/** FNV-1a of the filters' JSON: short, stable across runtimes, not a secret. */
function filterKey(filters: unknown): string {
  let hash = 0x811c9dc5;
  for (const char of JSON.stringify(filters) ?? "") {
    hash ^= char.codePointAt(0) ?? 0;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(36);
}
