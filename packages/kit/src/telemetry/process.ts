/**
 * Process metrics in the one registry: resident memory, heap, event-loop lag
 * and uptime. Memory and uptime are read at scrape time; lag comes from a
 * timer-drift sampler (how late a timer fires), unref'd so it never keeps the
 * process alive. Once per process, however many servers run in it.
 */
import { Effect, Layer } from "effect";
import { metrics } from "./metrics.js";

/** How often the lag sampler wakes; also the resolution of the lag it can see. */
const sampleIntervalMs = 500;

const startTimeSeconds = (Date.now() - performance.now()) / 1000;

const residentMemory = metrics.gauge("process_resident_memory_bytes", "Resident set size of the process.");
const heapUsed = metrics.gauge("process_heap_used_bytes", "JavaScript heap in use.");
const heapTotal = metrics.gauge("process_heap_total_bytes", "JavaScript heap reserved.");
const startTime = metrics.gauge("process_start_time_seconds", "When the process started, Unix time in seconds.");
const cpuSeconds = metrics.counter("process_cpu_seconds_total", "User and system CPU time spent by the process, seconds.");
const uptime = metrics.gauge("process_uptime_seconds", "Seconds since the process started.");
const lag = metrics.gauge("process_event_loop_lag_seconds", "How late the last event-loop lag sample ran.");
const lagMax = metrics.gauge(
  "process_event_loop_lag_max_seconds",
  "Largest event-loop lag sampled since the previous scrape.",
);

let users = 0;
let stop: (() => void) | undefined;

/**
 * Registers the process metrics and runs the lag sampler while any holder of
 * this Layer lives; the last release stops the sampler and removes the series.
 */
export const layerProcessMetrics: Layer.Layer<never> = Layer.effectDiscard(
  Effect.acquireRelease(
    Effect.sync(() => {
      if (users++ === 0) stop = start();
    }),
    () =>
      Effect.sync(() => {
        if (--users === 0) {
          stop?.();
          stop = undefined;
        }
      }),
  ),
);

function start(): () => void {
  const sampler = sampleLag(sampleIntervalMs);
  const single = (read: () => number) => () => [{ labels: {}, value: read() }];
  const stops = [
    residentMemory.collect(single(() => process.memoryUsage.rss())),
    heapUsed.collect(single(() => process.memoryUsage().heapUsed)),
    heapTotal.collect(single(() => process.memoryUsage().heapTotal)),
    startTime.collect(single(() => startTimeSeconds)),
    uptime.collect(single(() => process.uptime())),
    cpuSeconds.collect(single(() => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1e6;
    })),
    lag.collect(single(() => sampler.lastSeconds())),
    lagMax.collect(single(() => sampler.takeMaxSeconds())),
    sampler.stop,
  ];
  return () => {
    for (const s of stops) s();
  };
}

/** Event-loop lag: a timer asks to wake every `intervalMs`; whatever it wakes later than that is lag. */
function sampleLag(intervalMs: number) {
  let last = 0;
  let max = 0;
  let expected = performance.now() + intervalMs;
  const timer = setInterval(() => {
    const now = performance.now();
    last = Math.max(0, now - expected) / 1000;
    max = Math.max(max, last);
    expected = now + intervalMs;
  }, intervalMs);
  timer.unref?.();
  return {
    lastSeconds: () => last,
    /** The largest lag since the previous call, then starts over. */
    takeMaxSeconds: () => {
      const taken = Math.max(max, last);
      max = 0;
      return taken;
    },
    stop: () => clearInterval(timer),
  };
}
