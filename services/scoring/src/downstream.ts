/**
 * A downstream that cannot answer, in scoring's terms: `Unavailable` naming
 * the service and method, whatever the policy that gave up (refused connection,
 * deadline, open breaker, full bulkhead, retries spent). Answers that are not
 * about availability (a request the downstream rejects) are bugs here: scoring
 * checks its input before it calls.
 */
import { Effect } from "effect";
import { Unavailable } from "@meridian/kit";

const bugs = new Set(["InvalidArgument", "NotFound", "PermissionDenied", "Unauthenticated"]);

/** `Unavailable` for availability failures of `downstream`'s `method`; a defect for the rest. */
export function downstreamFailure(
  downstream: string,
  method: string,
  error: { readonly _tag: string; readonly message: string },
): Effect.Effect<never, Unavailable> {
  if (bugs.has(error._tag)) return Effect.die(error);
  return Effect.fail(
    new Unavailable({ reason: `${downstream} ${method}: ${error._tag}: ${error.message}` }, `${downstream} unavailable: ${error.message}`),
  );
}
