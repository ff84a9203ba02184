/**
 * A Transport whose answers a test scripts, call by call, with no network and
 * no clock: each unary call takes the next step (answer, fail, or hang until
 * released or aborted) and is recorded with the deadline and headers it was sent with.
 */
import { create, type DescMessage, type DescMethodUnary } from "@bufbuild/protobuf";
import { Code, ConnectError, type Transport, type UnaryResponse } from "@connectrpc/connect";

/** What one call gets. */
export type Step =
  | { readonly kind: "answer" }
  | { readonly kind: "fail"; readonly error: ConnectError }
  | { readonly kind: "hang" };

/** One call as the transport saw it. */
export interface ScriptedCall {
  readonly method: string;
  readonly timeoutMs: number | undefined;
  readonly header: Headers;
  /** Ends a hanging call with a response. */
  readonly release: () => void;
  /** True once it ended because its signal aborted. */
  aborted: boolean;
}

/** A scripted transport and what it saw. */
export interface ScriptedTransport extends Transport {
  readonly calls: ScriptedCall[];
  /** Steps for the next calls, in order; when they run out every call gets `otherwise`. */
  readonly script: (...steps: Step[]) => void;
  otherwise: Step;
}

export const answer: Step = { kind: "answer" };
export const hang: Step = { kind: "hang" };
export const fail = (code: Code, message = "scripted failure", error?: ConnectError): Step => ({
  kind: "fail",
  error: error ?? new ConnectError(message, code),
});
export const unavailable = fail(Code.Unavailable, "down");

/** A transport that answers as scripted (default: every call answers). */
export function scriptedTransport(otherwise: Step = answer): ScriptedTransport {
  const steps: Step[] = [];
  const calls: ScriptedCall[] = [];
  const transport: ScriptedTransport = {
    calls,
    otherwise,
    script: (...next) => void steps.push(...next),
    unary: <I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
    ): Promise<UnaryResponse<I, O>> => {
      const step = steps.shift() ?? transport.otherwise;
      const response: UnaryResponse<I, O> = {
        stream: false,
        service: method.parent,
        method,
        header: new Headers(),
        message: create(method.output),
        trailer: new Headers(),
      };
      return new Promise((resolve, reject) => {
        const call: ScriptedCall = {
          method: method.localName,
          timeoutMs,
          header: new Headers(header),
          release: () => resolve(response),
          aborted: false,
        };
        calls.push(call);
        if (step.kind === "answer") return resolve(response);
        if (step.kind === "fail") return reject(step.error);
        signal?.addEventListener("abort", () => {
          call.aborted = true;
          reject(new ConnectError("aborted", Code.Canceled));
        });
      });
    },
    stream: () => Promise.reject(new ConnectError("no streams here", Code.Unimplemented)),
  };
  return transport;
}
