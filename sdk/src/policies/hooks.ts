/**
 * What a resilient client tells its owner, so telemetry lives outside the
 * browser-safe SDK: the kit turns these into metrics and log lines.
 * Hooks run synchronously on the call path; keep them cheap.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import type { BreakerState } from "./breaker.js";

/** One call, ended. */
export interface CallEnded {
  readonly method: DescMethod;
  /** The error it ended with; undefined on success. */
  readonly error: ConnectError | undefined;
  readonly durationMs: number;
  /** Attempts sent (0 when a policy refused the call before any). */
  readonly attempts: number;
  /** The endpoint of the last attempt, if one was picked. */
  readonly endpoint: string | undefined;
  /** The headers the call was sent with (correlation id, trace context), as given. */
  readonly requestHeader: HeadersInit | undefined;
}

/** A retry about to wait and go. */
export interface RetryScheduled {
  readonly method: DescMethod;
  /** The attempt that failed (1 for the first). */
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: ConnectError;
}

/** An endpoint's breaker changed state. */
export interface BreakerTransition {
  readonly endpoint: string;
  readonly from: BreakerState;
  readonly to: BreakerState;
}

/** Callbacks of a resilient client; all optional. */
export interface ClientHooks {
  readonly onCallEnded?: (event: CallEnded) => void;
  readonly onRetry?: (event: RetryScheduled) => void;
  readonly onBreakerTransition?: (event: BreakerTransition) => void;
}
