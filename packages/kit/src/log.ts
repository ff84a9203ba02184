/**
 * The one logger: JSON lines on stdout, as an Effect `Logger` for code that
 * runs in Effect, and {@link writeLogLine} for the request path, which shares
 * its sink, its level and its line format.
 */
import { Layer, Logger, LogLevel, References } from "effect";

/** The log levels, from most to least verbose. */
export type Level = "trace" | "debug" | "info" | "warn" | "error" | "fatal";

const severity: Record<Level, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, fatal: 5 };
const fromEffectLevel: Record<LogLevel.LogLevel, Level> = {
  All: "trace",
  Trace: "trace",
  Debug: "debug",
  Info: "info",
  Warn: "warn",
  Error: "error",
  Fatal: "fatal",
  None: "fatal",
};

/** Where lines go; swapped in tests to capture them. */
export interface LogSink {
  write(line: string): void;
  flush(): void;
}

/** Writes lines to stdout in batches, one write per turn of the event loop; flushes synchronously on exit. */
export function stdoutSink(): LogSink {
  let pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const chunk = pending.join("");
    pending = [];
    process.stdout.write(chunk);
  };
  process.once("exit", flush);
  return {
    write(line) {
      pending.push(line);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}

let sink: LogSink = stdoutSink();
let minimum: Level = "info";
let serviceName = "meridian";

/** Sets the process-wide level, service name and (in tests) sink. */
export function configureLogging(options: { level?: Level; service?: string; sink?: LogSink }): void {
  if (options.level) minimum = options.level;
  if (options.service) serviceName = options.service;
  if (options.sink) sink = options.sink;
}

/** True when a line of this level would be written. */
export function isLogged(level: Level): boolean {
  return severity[level] >= severity[minimum];
}

let isoMs = 0;
let isoText = "";

/** The current time as ISO 8601; formatted once per millisecond however many lines share it. */
function isoNow(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoText = new Date(now).toISOString();
  }
  return isoText;
}

/** Writes one JSON line (time, level, service, message, then the fields) if the level is enabled. */
export function writeLogLine(level: Level, message: string, fields?: Record<string, unknown>): void {
  if (!isLogged(level)) return;
  const line: Record<string, unknown> = { time: isoNow(), level, service: serviceName, message };
  if (fields) Object.assign(line, fields);
  sink.write(`${JSON.stringify(line)}\n`);
}

/** Flushes buffered lines now (before exit). */
export function flushLogs(): void {
  sink.flush();
}

/** Effect's logger, writing the same JSON lines; log annotations become fields. */
export const jsonLogger = Logger.make<unknown, void>(({ message, logLevel, cause, fiber }) => {
  const level = fromEffectLevel[logLevel];
  if (!isLogged(level)) return;
  const annotations = fiber.getRef(References.CurrentLogAnnotations);
  const text = Array.isArray(message) ? message.map(String).join(" ") : String(message);
  const fields: Record<string, unknown> = { ...annotations };
  if (cause.reasons.length > 0) fields.cause = String(cause);
  writeLogLine(level, text, fields);
});

/** Replaces Effect's default logger with {@link jsonLogger}. */
export const layerLogger: Layer.Layer<never> = Logger.layer([jsonLogger]);

/** Parses LOG_LEVEL; unknown values are rejected by the config schema before this. */
export const levels = Object.keys(severity) as Level[];
