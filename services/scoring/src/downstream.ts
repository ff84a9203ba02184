/**
 * A downstream that cannot answer, in scoring's terms: `Unavailable` naming
 * the service and method, whatever the policy that gave up (refused connection,
 * deadline, open breaker, full bulkhead, retries spent). Answers that are not
 * about availability (a request the downstream rejects) are bugs here: scoring
 * checks its input before it calls.
 */
import type { Effect } from "effect";
import type { Unavailable } from "@meridian/kit";
import { downstreamUnavailable } from "@meridian/kit/client";

const bugs = new Set(["InvalidArgument", "NotFound", "PermissionDenied", "Unauthenticated"]);

/** `Unavailable` for `downstream`'s `method` failing with `error`; a defect for requests it calls malformed. */
export function downstreamFailure(
  downstream: string,
  method: string,
  error: { readonly _tag: string; readonly message: string },
): Effect.Effect<never, Unavailable> {
  return downstreamUnavailable(downstream, method, error, bugs);
}
