/**
 * Cache keys: a name in one of two tiers and the proto message stored under it.
 * Shared entries are the same for every caller (`market:regime:current`); per-user entries
 * belong to one user (`user:<id>:portfolio`) and can be dropped together.
 */
import type { Message } from "@bufbuild/protobuf";
import type { GenMessage } from "@bufbuild/protobuf/codegenv2";

/** Where an entry lives and what it holds: values are the protobuf binary of `schema`. */
export interface CacheKey<A extends Message> {
  readonly schema: GenMessage<A>;
  /** The key without the cache's prefix, e.g. "market:regime:current". */
  readonly key: string;
  /** The first segment ("market", "user"): the namespace metrics and logs report. */
  readonly namespace: string;
}

/** A shared entry: `<namespace>:<part>…`, e.g. `sharedKey(RegimeSchema, "market", "regime", "current")`. */
export function sharedKey<A extends Message>(
  schema: GenMessage<A>,
  namespace: string,
  ...parts: ReadonlyArray<string>
): CacheKey<A> {
  if (namespace === "user") throw new TypeError('"user" is the per-user tier: use userKey');
  return { schema, key: [namespace, ...parts].map(segment).join(":"), namespace };
}

/** A per-user entry: `user:<userId>:<part>…`, e.g. `userKey(PortfolioSchema, accountId, "portfolio")`. */
export function userKey<A extends Message>(
  schema: GenMessage<A>,
  userId: string,
  ...parts: ReadonlyArray<string>
): CacheKey<A> {
  return { schema, key: ["user", userId, ...parts].map(segment).join(":"), namespace: "user" };
}

/** The prefix of every entry of one user, for invalidating them together. */
export function userKeyPrefix(userId: string): string {
  return `user:${segment(userId)}:`;
}

// A segment never contains the separator, so one user's prefix cannot match another user's keys.
function segment(part: string): string {
  if (part === "") throw new TypeError("a cache key segment cannot be empty");
  return part.includes(":") || part.includes("%") || part.includes("*") ? encodeURIComponent(part).replaceAll("*", "%2A") : part;
}
