/**
 * The rules of executing a plan, pure: the idempotency key of each trade, and
 * which failures of trading are refusals of the trade (the plan is rejected)
 * rather than trouble reaching trading (the call may be retried).
 */
import { Code } from "@connectrpc/connect";

/**
 * The idempotency key of the plan's `index`-th trade. Derived from the plan
 * alone, so any execution of the plan (a second one, a retry after a crash
 * half-way) asks trading for the same orders, and trading places each once.
 */
export function idempotencyKey(planId: string, index: number): string {
  return `plan:${planId}:${index}`;
}

/** Failures that say trading could not be reached or could not answer, not that it refused the order. */
const availabilityFailures = new Set([
  "Unavailable",
  "DeadlineExceeded",
  "CircuitOpen",
  "BulkheadFull",
  "RetriesExhausted",
  "RateLimited",
  "ResourceExhausted",
  "Internal",
]);

/** Codes of an untyped failure that mean the order itself was refused. */
const refusalCodes = new Set<number>([Code.InvalidArgument, Code.FailedPrecondition, Code.NotFound, Code.AlreadyExists, Code.PermissionDenied]);

/** True when trading refused the order itself (funds, position, symbol, request…), false when it was not reached. */
export function isRefusal(error: { readonly _tag: string; readonly code?: unknown }): boolean {
  if (error._tag === "RpcFailure") return typeof error.code === "number" && refusalCodes.has(error.code);
  return !availabilityFailures.has(error._tag);
}

/** The reason a refusal is reported with: the error's tag, with the fields at fault for a malformed request. */
export function refusalReason(error: {
  readonly _tag: string;
  readonly fieldViolations?: ReadonlyArray<{ readonly field: string; readonly description: string }>;
}): string {
  if (error.fieldViolations === undefined || error.fieldViolations.length === 0) return error._tag;
  return `${error._tag} (${error.fieldViolations.map((v) => `${v.field}: ${v.description}`).join("; ")})`;
}
