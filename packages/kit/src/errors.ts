/**
 * The server side of typed errors: what a handler's failure becomes on the wire.
 * Typed errors keep their code and details; a defect becomes `internal` with a
 * generic message and the correlation id, and its cause goes to the log only.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { Cause } from "effect";
import { Internal, RpcFailure, toConnectError, type TypedError, type TypedErrorClass } from "@meridian/sdk";
import { RateLimited } from "@meridian/sdk/kit-errors";
import { writeLogLine } from "./log.js";

export * from "@meridian/sdk/kit-errors";
export type { TypedError } from "@meridian/sdk";

/** True for an instance of a class made by `typedError` (it knows its proto schema). */
export function isTypedError(value: unknown): value is TypedError {
  return (
    typeof value === "object" &&
    value !== null &&
    "_tag" in value &&
    typeof (value.constructor as Partial<TypedErrorClass>).schema === "object"
  );
}

/** What the wire mapping needs to know about the call that failed. */
export interface FailedCall {
  readonly domain: string;
  readonly method: string;
  readonly correlationId: string;
  /** Why the call's signal aborted, if it did (deadline or client cancel). */
  readonly abortReason?: unknown;
}

/**
 * Maps a handler's failure to the ConnectError to send: typed errors as they
 * are, interruption as the abort reason (deadline_exceeded or canceled), anything else as `internal`.
 */
export function toWireError(cause: Cause.Cause<unknown>, call: FailedCall): ConnectError {
  for (const reason of cause.reasons) {
    if (Cause.isFailReason(reason)) {
      const error = reason.error;
      if (isTypedError(error)) {
        const wire = toConnectError(error, (error.constructor as TypedErrorClass).schema, call.domain);
        // Plain HTTP clients (curl, browsers' fetch) read when to come back from the standard header.
        if (error instanceof RateLimited) wire.metadata.set("retry-after", String(Math.max(1, Math.ceil(Number(error.retryAfterMs) / 1000))));
        return wire;
      }
      if (error instanceof ConnectError) return error;
      // A downstream failure no class claims keeps its code and message.
      if (error instanceof RpcFailure) return new ConnectError(error.message, error.code);
    }
  }
  if (Cause.hasInterruptsOnly(cause)) {
    if (call.abortReason instanceof ConnectError) return call.abortReason;
    return new ConnectError("the call was cancelled", Code.Canceled);
  }
  writeLogLine("error", "defect in handler", {
    correlation_id: call.correlationId,
    method: call.method,
    cause: Cause.pretty(cause),
  });
  return internalError(call.correlationId, call.domain);
}

/** The `internal` error a client sees for a bug: a generic message and the correlation id, nothing else. */
export function internalError(correlationId: string, domain: string): ConnectError {
  const error = new Internal({ correlationId }, `internal error (correlation id ${correlationId})`);
  return toConnectError(error, Internal.schema, domain);
}
