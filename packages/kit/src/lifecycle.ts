/**
 * The life of a process: its status (`starting → running → stopping →
 * stopped`, or `error`), the shutdown signal every listener and stream watches,
 * and {@link runMain}, which builds the process's Layers in dependency order,
 * releases them in reverse on SIGTERM/SIGINT, and exits non-zero when start-up fails.
 */
import { Cause, Context, Effect, Exit, Fiber, Layer } from "effect";
import { Health, layerHealth } from "./health.js";
import { configureLogging, flushLogs, layerLogger, writeLogLine } from "./log.js";
import { layerTracing } from "./telemetry/tracing.js";

/** Where a process is in its life. */
export type Status = "starting" | "running" | "stopping" | "stopped" | "error";

/** The process's status and the signal that says shutdown has begun. */
export interface LifecycleState {
  readonly status: () => Status;
  readonly setStatus: (status: Status) => void;
  /** Aborts the moment shutdown begins: readiness turns false, streams end, listeners drain. */
  readonly shutdown: AbortSignal;
  readonly beginShutdown: () => void;
  readonly startedAt: number;
}

/** The lifecycle of the current process. */
export class Lifecycle extends Context.Service<Lifecycle, LifecycleState>()("@meridian/kit/Lifecycle") {}

/** A fresh lifecycle in `starting`. */
export function makeLifecycle(): LifecycleState {
  let status: Status = "starting";
  const controller = new AbortController();
  return {
    status: () => status,
    setStatus: (next) => {
      status = next;
    },
    shutdown: controller.signal,
    beginShutdown: () => {
      if (status === "starting" || status === "running") status = "stopping";
      if (!controller.signal.aborted) controller.abort(new Error("server shutting down"));
    },
    startedAt: Date.now(),
  };
}

/** Provides a fresh lifecycle; for tests and embedders that do not use {@link runMain}. */
export const layerLifecycle: Layer.Layer<Lifecycle> = Layer.sync(Lifecycle, makeLifecycle);

/** Marks the process running once every Layer before it is built; keep it last in the graph. */
export const markRunning: Layer.Layer<never, never, Lifecycle> = Layer.effectDiscard(
  Effect.flatMap(Effect.service(Lifecycle), (lifecycle) =>
    Effect.acquireRelease(
      Effect.sync(() => lifecycle.setStatus("running")),
      () => Effect.sync(() => lifecycle.beginShutdown()),
    ),
  ),
);

/**
 * Runs a process made of Layers until SIGTERM or SIGINT: readiness turns false
 * at once, then every Layer is released in reverse order of acquisition and the
 * process exits 0; a start-up failure is logged once and the process exits 1.
 */
export function runMain<E, A>(
  layer: Layer.Layer<A, E, Lifecycle | Health>,
  options: { readonly name: string },
): void {
  const lifecycle = makeLifecycle();
  configureLogging({ service: options.name });
  const program = Layer.launch(
    layer.pipe(
      Layer.provideMerge(layerTracing(options.name)),
      Layer.provide(layerHealth),
      Layer.provide(Layer.succeed(Lifecycle, lifecycle)),
      Layer.provide(layerLogger),
    ),
  );
  const fiber = Effect.runFork(program);
  const stop = (signal: string) => {
    if (lifecycle.shutdown.aborted) return;
    writeLogLine("info", "shutting down", { signal, process: options.name });
    lifecycle.beginShutdown();
    Effect.runFork(Fiber.interrupt(fiber));
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
  fiber.addObserver((exit) => {
    if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) {
      lifecycle.setStatus("stopped");
      writeLogLine("info", "stopped", { process: options.name });
      flushLogs();
      process.exit(0);
    }
    lifecycle.setStatus("error");
    writeLogLine("fatal", `start-up failed: ${describeFailure(exit.cause)}`, { process: options.name });
    flushLogs();
    process.exit(1);
  });
}

/** The message of a failure's first error, or the pretty cause of a defect. */
export function describeFailure(cause: Cause.Cause<unknown>): string {
  const error = Cause.squash(cause);
  if (error instanceof Error) return error.message;
  if (typeof error === "object" && error !== null && "message" in error) return String(error.message);
  return Cause.pretty(cause);
}
