/**
 * The failures the policies raise themselves, as the ConnectErrors a server
 * would send (code, ErrorInfo and the typed detail), so the Promise face
 * rejects with them and `typedErrorOf` rebuilds them like any other.
 */
import type { ConnectError } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { toConnectError } from "../errors.js";
import { ErrorInfoSchema } from "../gen/meridian/common/v1/error_info_pb.js";
import { BulkheadFull, CircuitOpen, DeadlineExceeded, RetriesExhausted } from "../kit-errors.js";

/** The ErrorInfo domain of failures raised on the calling side. */
export const clientDomain = "client";

/** Every endpoint's breaker is open: the call was not sent. */
export function circuitOpen(endpoint: string): ConnectError {
  return toConnectError(
    new CircuitOpen({ endpoint }, `circuit open for ${endpoint}`),
    CircuitOpen.schema,
    clientDomain,
  );
}

/** The downstream's bulkhead and its queue are full: the call was not sent. */
export function bulkheadFull(downstream: string): ConnectError {
  return toConnectError(
    new BulkheadFull({ downstream }, `bulkhead full for ${downstream}`),
    BulkheadFull.schema,
    clientDomain,
  );
}

/** Every attempt the retry policy allowed failed; carries the last attempt's message. */
export function retriesExhausted(attempts: number, last: ConnectError): ConnectError {
  return toConnectError(
    new RetriesExhausted(
      { attempts, lastError: last.rawMessage },
      `${attempts} attempts failed; last: [${codeToString(last.code)}] ${last.rawMessage}`,
    ),
    RetriesExhausted.schema,
    clientDomain,
  );
}

/** The call's deadline passed before it could finish (e.g. waiting in the bulkhead's queue). */
export function deadlineExceeded(timeoutMs: number): ConnectError {
  return toConnectError(
    new DeadlineExceeded({ timeoutMs: BigInt(Math.round(timeoutMs)) }, `deadline of ${Math.round(timeoutMs)} ms exceeded`),
    DeadlineExceeded.schema,
    clientDomain,
  );
}

const refusals = new Set<string>([CircuitOpen.tag, BulkheadFull.tag, RetriesExhausted.tag]);

/**
 * True for a refusal by a resilience policy, here or in a downstream that
 * passed it on: retrying it would only add load (a downstream that already retried is not retried again).
 */
export function isPolicyRefusal(error: ConnectError): boolean {
  if (error.details.length === 0) return false;
  for (const info of error.findDetails(ErrorInfoSchema)) if (refusals.has(info.reason)) return true;
  return false;
}

