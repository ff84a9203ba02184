/**
 * A downstream that could not do what was asked, in the caller's terms.
 */
import { Effect } from "effect";
import { Unavailable } from "../errors.js";

/**
 * `Unavailable` naming `downstream`, `method` and the error, whatever gave up (refused connection,
 * deadline, open breaker, full bulkhead, retries spent, a precondition the downstream reported);
 * a defect when the error's tag is in `defects`: answers saying the caller's own request was
 * malformed are bugs in a caller that checks its input before it calls.
 */
export function downstreamUnavailable(
  downstream: string,
  method: string,
  error: { readonly _tag: string; readonly message: string },
  defects: ReadonlySet<string>,
): Effect.Effect<never, Unavailable> {
  if (defects.has(error._tag)) return Effect.die(error);
  return Effect.fail(
    new Unavailable({ reason: `${downstream} ${method}: ${error._tag}: ${error.message}` }, `${downstream} unavailable: ${error.message}`),
  );
}
