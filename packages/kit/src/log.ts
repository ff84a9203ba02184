/**
 * The one logger: JSON lines on stdout, as an Effect `Logger` for code that
 * runs in Effect, and {@link writeLogLine} for the request path, which shares
 * its sink, its level and its line format.
 */
import { writeSync } from "node:fs";
import { Context, Layer, Logger, LogLevel, References } from "effect";
import { RequestContext } from "./server/call.js";

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

/**
 * Writes lines to stdout in batches: at most every few milliseconds or every few hundred lines,
 * whichever comes first, so a busy server makes one write(2) per batch, not per request; flushes
 * synchronously on exit. A batch goes out with one synchronous write(2) when the descriptor takes it whole
 * (files, terminals, most pipes), and through the stream otherwise (a full pipe), so nothing is lost.
 */
export function stdoutSink(): LogSink {
  const batchDelayMs = 5;
  const maxBatchLines = 256;
  // One string appended to, not an array joined: the lines are written as they were built.
  let pending = "";
  let lines = 0;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (lines === 0) return;
    const text = pending;
    pending = "";
    lines = 0;
    let written = 0;
    try {
      written = process.stdout.writableLength === 0 ? writeSync(1, text) : 0;
    } catch {
      written = 0; // EAGAIN on a full non-blocking pipe: the stream below queues it
    }
    // writeSync counts bytes: what a short write left, from its byte offset.
    if (written === 0) process.stdout.write(text);
    else if (written < Buffer.byteLength(text)) process.stdout.write(Buffer.from(text).subarray(written));
  };
  process.once("exit", flush);
  return {
    write(line) {
      pending += line;
      if (++lines >= maxBatchLines) return flush();
      if (!scheduled) {
        scheduled = true;
        setTimeout(flush, batchDelayMs).unref?.();
      }
    },
    flush,
  };
}

let sink: LogSink = stdoutSink();
let minimum: Level = "info";
let serviceName = "meridian";
let serviceJson = JSON.stringify(serviceName);

/** Sets the process-wide level, service name and (in tests) sink. */
export function configureLogging(options: { level?: Level; service?: string; sink?: LogSink }): void {
  if (options.level) minimum = options.level;
  if (options.service) {
    serviceName = options.service;
    serviceJson = JSON.stringify(serviceName);
    heads.clear();
  }
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
  // The fixed head is formatted by hand (its values need no escaping but the message's);
  // only the fields go through JSON.stringify. Same JSON as stringifying the whole object.
  const head = `{"time":"${isoNow()}","level":"${level}","service":${serviceJson},"message":${JSON.stringify(message)}`;
  const rest = fields === undefined ? "}" : JSON.stringify(fields);
  sink.write(`${head}${rest.length > 2 ? `,${rest.slice(1)}` : "}"}\n`);
}

/** `","level":…,"service":…,"message":…,` by level and message: the part of a line between its time and its fields. */
const heads = new Map<Level, Map<string, string>>();

function headOf(level: Level, message: string): string {
  let byMessage = heads.get(level);
  if (byMessage === undefined) heads.set(level, (byMessage = new Map()));
  let head = byMessage.get(message);
  if (head === undefined) {
    head = `","level":"${level}","service":${serviceJson},"message":${JSON.stringify(message)},`;
    if (byMessage.size < 64) byMessage.set(message, head); // messages are a small fixed set; never grow without bound
  }
  return head;
}

/**
 * Writes one line whose fields after the message are already JSON (`"key":value,…`, no braces):
 * for the access log, which formats its few fields itself, once per request.
 */
export function writeLogFields(level: Level, message: string, fieldsJson: string): void {
  if (!isLogged(level)) return;
  sink.write(`{"time":"${isoNow()}${headOf(level, message)}${fieldsJson}}\n`);
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
  // Inside a handler, every line carries the call's correlation id and trace ids.
  const call = Context.getOrUndefined(fiber.context, RequestContext);
  const fields: Record<string, unknown> = call === undefined ? { ...annotations } : { ...call.logFields(), ...annotations };
  if (cause.reasons.length > 0) fields.cause = String(cause);
  writeLogLine(level, text, fields);
});

/** Replaces Effect's default logger with {@link jsonLogger}. */
export const layerLogger: Layer.Layer<never> = Logger.layer([jsonLogger]);

/** Parses LOG_LEVEL; unknown values are rejected by the config schema before this. */
export const levels = Object.keys(severity) as Level[];
