/**
 * A downstream that cannot answer, in planning's terms: `Unavailable` naming
 * the service, method and error, whatever gave up (refused connection,
 * deadline, open breaker, retries spent) or whatever precondition it reported
 * (e.g. scoring without enough history). A downstream rejecting planning's own
 * request as malformed is a bug here: planning checks its input before it calls.
 */
import type { Effect } from "effect";
import type { Unavailable } from "@meridian/kit";
import { downstreamUnavailable } from "@meridian/kit/client";

const bugs = new Set(["InvalidArgument", "PermissionDenied", "Unauthenticated"]);

/** `Unavailable` for `downstream`'s `method` failing with `error`; a defect for requests it calls malformed. */
export function downstreamFailure(
  downstream: string,
  method: string,
  error: { readonly _tag: string; readonly message: string },
): Effect.Effect<never, Unavailable> {
  return downstreamUnavailable(downstream, method, error, bugs);
}
