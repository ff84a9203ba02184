/**
 * Client spans: when tracing is on, each outgoing call gets an OpenTelemetry
 * span (kind client), child of the served request's span, whose context is
 * what goes downstream in `traceparent`; it ends with the call's code. When
 * tracing is off this costs one boolean check.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { SpanStatusCode } from "@opentelemetry/api";
import { Cause, Effect, Exit } from "effect";
import type { RequestInfo } from "../server/call.js";
import { startSpan, traceHeadersOf, tracingEnabled } from "../telemetry/tracing.js";
import { traceOf, type TraceHeaders } from "./propagation.js";

/** Codes that are the downstream's fault, marked as span errors (a domain error is an answer). */
const faults = new Set<Code>([
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.Unimplemented,
  Code.Internal,
  Code.Unavailable,
  Code.DataLoss,
]);

/**
 * Runs `call` under a client span of `method` when tracing is on, handing it
 * the span's trace headers to send (they replace the caller's); otherwise runs
 * it with none (the request's or the caller's trace goes on as it is).
 */
export function withClientSpan<A, E>(
  method: DescMethod,
  downstream: string,
  request: RequestInfo | undefined,
  callerHeaders: HeadersInit | undefined,
  call: (span: TraceHeaders | undefined) => Effect.Effect<A, E>,
): Effect.Effect<A, E> {
  if (!tracingEnabled()) return call(undefined);
  // A traceparent the caller set on the call is the parent; else the served request's trace.
  const given = callerHeaders === undefined ? null : new Headers(callerHeaders).get("traceparent");
  const parent: TraceHeaders = given === null ? traceOf(request) : { traceparent: given };
  const span = startSpan(
    `${method.parent.typeName}/${method.name}`,
    "client",
    parent.traceparent === undefined ? undefined : (parent as Record<string, string>),
    {
      "rpc.system": "connect_rpc",
      "rpc.service": method.parent.typeName,
      "rpc.method": method.name,
      "meridian.downstream": downstream,
    },
  );
  if (span === undefined) return call(undefined);
  return Effect.onExit(call(traceHeadersOf(span, new Headers())), (exit) =>
    Effect.sync(() => {
      const code = Exit.isSuccess(exit) ? undefined : codeOf(exit.cause);
      span.setAttribute("rpc.grpc.status_code", code ?? 0);
      if (code !== undefined) {
        span.setAttribute("rpc.connect_rpc.error_code", codeToString(code));
        if (faults.has(code)) span.setStatus({ code: SpanStatusCode.ERROR, message: codeToString(code) });
      }
      span.end();
    }),
  );
}

/** The Connect code of a failed call: its typed error's, or `canceled` when the caller gave up. */
function codeOf(cause: Cause.Cause<unknown>): Code {
  const error = Cause.findErrorOption(cause);
  if (error._tag === "None") return Code.Canceled;
  const code = (error.value as { code?: unknown }).code;
  return typeof code === "number" ? (code as Code) : Code.Unknown;
}
