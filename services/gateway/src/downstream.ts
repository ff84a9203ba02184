/**
 * A downstream's failure as the gateway reports it: the kit's errors (unavailable,
 * deadline, circuit open…) as they are; another service's domain error keeps its
 * code, and its tag and message go into the message, since the gateway's contract
 * does not carry other services' error types.
 */
import { KitErrors, type KitError } from "@meridian/kit";
import { RpcFailure } from "@meridian/sdk";
import { UnknownAccount } from "./errors.js";

type TypedFailure = { readonly _tag: string; readonly code?: unknown; readonly message: string };

/** Maps a failure of a call to `downstream` to one the gateway may return. */
export function downstreamFailure(downstream: string): <E extends TypedFailure>(error: E) => KitError | UnknownAccount {
  return (error) => {
    if (error instanceof UnknownAccount || error instanceof RpcFailure) return error;
    if (KitErrors.some((Class) => error instanceof Class)) return error as unknown as KitError;
    const code = typeof error.code === "number" ? error.code : 13; // internal, for a shape no class made
    return new RpcFailure({ code, message: `${downstream}: ${error._tag}: ${error.message}` });
  };
}
