/**
 * The field rules of planning's requests, as pure functions: each broken rule
 * is a field violation named by its proto field.
 */

/** One broken rule. */
export interface Violation {
  readonly field: string;
  readonly description: string;
}

/** Ids (accounts, plans) are opaque: 1 to 128 printable characters without spaces. */
const idPattern = /^[\x21-\x7e]{1,128}$/;

/** The rule an id breaks, if any. */
export function checkId(value: string, field: string): Violation[] {
  if (value === "") return [{ field, description: "is required" }];
  return idPattern.test(value)
    ? []
    : [{ field, description: `must be 1 to 128 printable characters without spaces (got ${JSON.stringify(value.slice(0, 40))})` }];
}
