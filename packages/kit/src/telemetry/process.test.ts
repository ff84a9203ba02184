/**
 * Process metrics as Prometheus sees them: scraped from /metrics of a served
 * process and parsed as the text exposition format.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Effect, Layer, ManagedRuntime } from "effect";
import { layerHealth } from "../health.js";
import { layerLifecycle } from "../lifecycle.js";
import { serve, Server } from "../server/serve.js";
import { metrics } from "./metrics.js";

/** One sample of a scrape. */
interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A scrape: samples, and each metric family's declared type. */
interface Scrape {
  readonly samples: ReadonlyArray<Sample>;
  readonly types: ReadonlyMap<string, string>;
}

/**
 * Parses the Prometheus text format (0.0.4): `# TYPE` lines, and samples
 * `name{label="value",…} number`; rejects any line that is neither.
 */
function parsePrometheus(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("#")) {
      const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (type !== null) types.set(type[1]!, type[2]!);
      else if (!line.startsWith("# HELP ")) throw new Error(`bad comment line: ${line}`);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (sample === null) throw new Error(`bad sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, raw] of (sample[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key!] = raw!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    const value = sample[3] === "+Inf" ? Infinity : sample[3] === "-Inf" ? -Infinity : Number(sample[3]);
    if (Number.isNaN(value) && sample[3] !== "NaN") throw new Error(`bad value: ${line}`);
    samples.push({ name: sample[1]!, labels, value });
  }
  return { samples, types };
}

const valueOf = (scrape: Scrape, name: string): number | undefined => scrape.samples.find((s) => s.name === name)?.value;

let runtime: ManagedRuntime.ManagedRuntime<Server, unknown>;
let httpUrl = "";

beforeAll(async () => {
  runtime = ManagedRuntime.make(
    serve<never>({ name: "metrics-test", services: [], config: { httpPort: 0, grpcPort: 0, logLevel: "warn" } }).pipe(
      Layer.provide(layerHealth),
      Layer.provide(layerLifecycle),
    ),
  );
  httpUrl = (await runtime.runPromise(Effect.service(Server))).http.url;
});

afterAll(async () => {
  await runtime?.dispose();
});

const scrape = async () => parsePrometheus(await (await fetch(`${httpUrl}/metrics`)).text());

describe("process metrics", () => {
  test("/metrics shows resident memory, heap, uptime and start time of the process", async () => {
    const metricsNow = await scrape();
    expect(valueOf(metricsNow, "process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(valueOf(metricsNow, "process_heap_used_bytes")).toBeGreaterThan(0);
    expect(valueOf(metricsNow, "process_heap_total_bytes")).toBeGreaterThan(0);
    expect(valueOf(metricsNow, "process_uptime_seconds")).toBeGreaterThan(0);
    const startedAt = valueOf(metricsNow, "process_start_time_seconds")!;
    expect(startedAt).toBeLessThanOrEqual(Date.now() / 1000);
    expect(startedAt).toBeGreaterThan(Date.now() / 1000 - process.uptime() - 60);
    expect(metricsNow.types.get("process_resident_memory_bytes")).toBe("gauge");
  });

  test("CPU seconds is a counter that grows with work", async () => {
    const first = await scrape();
    expect(first.types.get("process_cpu_seconds_total")).toBe("counter");
    const before = valueOf(first, "process_cpu_seconds_total")!;
    const until = performance.now() + 30;
    while (performance.now() < until) {
      // burn CPU for 30 ms
    }
    expect(valueOf(await scrape(), "process_cpu_seconds_total")!).toBeGreaterThan(before);
  });

  test("uptime grows between scrapes", async () => {
    const before = valueOf(await scrape(), "process_uptime_seconds")!;
    await Bun.sleep(20);
    expect(valueOf(await scrape(), "process_uptime_seconds")!).toBeGreaterThan(before);
  });

  test("a blocked event loop shows as lag", async () => {
    await scrape(); // starts a fresh window for the max
    // Longer than the sampler's period (500 ms), so its timer must fire late by at least the rest.
    const until = performance.now() + 800;
    while (performance.now() < until) {
      // busy: nothing else runs
    }
    await Bun.sleep(20); // let the late timer run
    const after = await scrape();
    expect(valueOf(after, "process_event_loop_lag_max_seconds")!).toBeGreaterThanOrEqual(0.25);
    expect(valueOf(after, "process_event_loop_lag_seconds")!).toBeGreaterThanOrEqual(0);
  });

  test("a second server in the process does not repeat the series, and the last one out removes them", async () => {
    const second = ManagedRuntime.make(
      serve<never>({ name: "metrics-test-2", services: [], config: { httpPort: 0, grpcPort: 0, logLevel: "warn" } }).pipe(
        Layer.provide(layerHealth),
        Layer.provide(layerLifecycle),
      ),
    );
    await second.runPromise(Effect.service(Server));
    const both = await scrape();
    expect(both.samples.filter((s) => s.name === "process_resident_memory_bytes")).toHaveLength(1);
    await second.dispose();
    expect(valueOf(await scrape(), "process_resident_memory_bytes")).toBeGreaterThan(0);

    await runtime.dispose();
    expect(metrics.render()).not.toContain("process_resident_memory_bytes");
  });
});
