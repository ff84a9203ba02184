/**
 * `bun run bench/client/run.ts`: what the client stack costs per call. One
 * kit server (bench/servers/kit.ts, access log off) runs in its own process;
 * this process calls its Echo method over Connect binary on keep-alive
 * HTTP/1.1 (fetch) through each client, in the same run, rounds interleaved:
 *
 *   bare          connect's Promise client on connect-web's fetch transport (no policies): the reference
 *   bare+deadline the same with a 5 s timeoutMs on each call: the price of "a deadline on every call" alone
 *   sdk-transport connect's Promise client on the SDK's fetch transport (its lean unary path), no policies
 *   sdk           the SDK's Promise client, default policies on (deadline, retry, breaker, bulkhead, balancing)
 *   bare-effect   the bare client inside Effect (Effect.tryPromise, aborting on interruption): what any Effect caller pays
 *   bare-effect+deadline  the same with a 5 s timeoutMs
 *   bare-effect+propagation  bare-effect+deadline also sending what the locator sends on every call
 *                 (a new x-request-id and traceparent, as outside a served request): the wire's share of the locator's cost
 *   sdk-effect    the SDK's Effect client, default policies on
 *   locator       the kit's client (Effect face): policies + metrics + debug-log check + correlation/trace/deadline propagation
 *
 * Promise rows compare with `bare`, Effect rows with `bare-effect` (every
 * Effect call runs a fiber; that cost is Effect's, not the policies').
 *
 * Latency: one call in flight, p50/p99. Throughput: `--concurrency` calls in
 * flight for `--duration` seconds, calls/s and this process's CPU per call.
 * The table goes to stdout and bench/client/results.md.
 *
 * Within a round the variants take turns call by call (latency) and in short
 * slices (throughput), so a spell of the machine's (a GC, the other core's load,
 * a stretch of slow wake-ups) hits them alike; many short rounds rather than a
 * few long ones, so a busy spell spoils a few pairs and the median sets them aside.
 *
 *   bun run bench/client/run.ts [--rounds 20] [--calls 1000] [--duration 1] [--concurrency 32]
 */
import { writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { create } from "@bufbuild/protobuf";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { Effect, Layer, ManagedRuntime } from "effect";
import { layerClient, LocalServices, newTraceparent, ServiceClient } from "../../packages/kit/src/client/index.js";
import { configureLogging } from "../../packages/kit/src/log.js";
import { createEffectClient, createFetchTransport, createMeridianClient } from "../../sdk/src/index.js";
import { Bench } from "../../sdk/src/gen/meridian/bench/v1/bench_meridian.js";
import { EchoResponseSchema } from "../../sdk/src/gen/meridian/bench/v1/bench_pb.js";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "20" },
    calls: { type: "string", default: "1000" },
    duration: { type: "string", default: "1" },
    concurrency: { type: "string", default: "32" },
  },
});
const rounds = Number(args.rounds);
const sequentialCalls = Number(args.calls);
const durationMs = Number(args.duration) * 1000;
const concurrency = Number(args.concurrency);

type Call = () => Promise<unknown>;

interface Sample {
  readonly p50Us: number;
  readonly p99Us: number;
  readonly callsPerSecond: number;
  readonly cpuUsPerCall: number;
}

const server = await startBenchServer();
configureLogging({ level: "info" }); // the services' default: the per-call debug line is checked, not written
try {
  const baseUrl = server.url;
  const request = { message: "hello, meridian", number: 42 };
  // The reference: connect-web's own transport, as the SDK's is configured (binary, GET for NO_SIDE_EFFECTS).
  const bare = createClient(Bench.desc, createConnectTransport({ baseUrl, useBinaryFormat: true, useHttpGet: true }));
  const sdkTransport = createClient(Bench.desc, createFetchTransport({ baseUrl, useBinaryFormat: true }));
  const sdk = createMeridianClient(Bench, { transport: createFetchTransport({ baseUrl, useBinaryFormat: true }) });
  const sdkEffect = createEffectClient(Bench, { transport: createFetchTransport({ baseUrl, useBinaryFormat: true }) });
  const runtime = ManagedRuntime.make(layerClient(Bench, { env: { MERIDIAN_BENCH_URL: baseUrl } }));
  const locator = await runtime.runPromise(Effect.service(ServiceClient(Bench)));

  const variants: Record<string, Call> = {
    bare: () => bare.echo(request),
    "bare+deadline": () => bare.echo(request, { timeoutMs: 5000 }),
    "sdk-transport": () => sdkTransport.echo(request),
    sdk: () => sdk.echo(request),
    "bare-effect": () => Effect.runPromise(Effect.tryPromise((signal) => bare.echo(request, { signal }))),
    "bare-effect+deadline": () =>
      Effect.runPromise(Effect.tryPromise((signal) => bare.echo(request, { signal, timeoutMs: 5000 }))),
    "bare-effect+propagation": () =>
      Effect.runPromise(
        Effect.tryPromise((signal) =>
          bare.echo(request, {
            signal,
            timeoutMs: 5000,
            headers: { "x-request-id": crypto.randomUUID(), traceparent: newTraceparent() },
          }),
        ),
      ),
    "sdk-effect": () => Effect.runPromise(sdkEffect.echo(request)),
    locator: () => Effect.runPromise(locator.echo(request)),
  };
  for (const [name, call] of Object.entries(variants)) {
    const response = (await call()) as { messageLength: number };
    if (response.messageLength !== request.message.length) throw new Error(`${name}: wrong answer`);
  }

  const samples: Record<string, Sample[]> = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
  const names = Object.keys(variants);
  await measureRound(variants, 0); // warm-up: JIT, connections
  for (let round = 0; round < rounds; round++) {
    const measured = await measureRound(variants, round);
    for (const name of names) samples[name]!.push(measured[name]!);
    process.stderr.write(".");
  }
  process.stderr.write("\n");
  await runtime.dispose();

  const report = `${render(samples)}\n${await renderPipeline()}`;
  console.log(report);
  writeFileSync(join(import.meta.dir, "results.md"), report);
} finally {
  server.stop();
}

/**
 * One round of every variant, interleaved as finely as each measure allows, so that whatever the
 * machine does meanwhile (GC, the other core's load, how soon an idle CPU wakes for an answer: on
 * this VM a loopback round trip is ~2× slower in some stretches than in others) hits them alike:
 * latency by single calls in turn (the order rotating call by call), then throughput in
 * `slices` short slices per variant in turn.
 */
async function measureRound(variants: Record<string, Call>, round: number): Promise<Record<string, Sample>> {
  const names = Object.keys(variants);
  const latencies = Object.fromEntries(names.map((name) => [name, new Float64Array(sequentialCalls)]));
  for (let i = 0; i < sequentialCalls; i++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + i + round) % names.length]!;
      const started = performance.now();
      await variants[name]!();
      latencies[name]![i] = performance.now() - started;
    }
  }
  const slices = 4;
  const totals = Object.fromEntries(names.map((name) => [name, { done: 0, elapsedMs: 0, cpuUs: 0 }]));
  for (let slice = 0; slice < slices; slice++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + slice + round) % names.length]!;
      const call = variants[name]!;
      const total = totals[name]!;
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      const until = started + durationMs / slices;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (performance.now() < until) {
            await call();
            total.done++;
          }
        }),
      );
      total.elapsedMs += performance.now() - started;
      const cpu = process.cpuUsage(cpuBefore);
      total.cpuUs += cpu.user + cpu.system;
    }
  }
  return Object.fromEntries(
    names.map((name) => {
      const sorted = latencies[name]!.sort();
      const total = totals[name]!;
      return [
        name,
        {
          p50Us: sorted[Math.floor(sequentialCalls * 0.5)]! * 1000,
          p99Us: sorted[Math.floor(sequentialCalls * 0.99)]! * 1000,
          callsPerSecond: total.done / (total.elapsedMs / 1000),
          cpuUsPerCall: total.cpuUs / total.done,
        },
      ];
    }),
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function render(samples: Record<string, Sample[]>): string {
  const summary = Object.fromEntries(
    Object.entries(samples).map(([name, s]) => [
      name,
      {
        p50Us: median(s.map((x) => x.p50Us)),
        p99Us: median(s.map((x) => x.p99Us)),
        callsPerSecond: median(s.map((x) => x.callsPerSecond)),
        // The least disturbed round: other processes on the machine only ever add to it.
        cpuUsPerCall: Math.min(...s.map((x) => x.cpuUsPerCall)),
      },
    ]),
  ) as Record<string, Sample>;
  const baselineOf = (name: string) => (name.includes("effect") || name === "locator" ? "bare-effect" : "bare");
  const pct = (ratio: number) => `${ratio >= 0 ? "+" : ""}${(ratio * 100).toFixed(1)}%`;
  /**
   * A variant against its baseline measured in the same round, the median over
   * rounds: a busy spell of the machine slows both sides of a pair, not one row.
   */
  const paired = (name: string, of: (sample: Sample) => number) => {
    const base = samples[baselineOf(name)]!;
    return median(samples[name]!.map((sample, round) => of(sample) / of(base[round]!) - 1));
  };
  const rows = Object.entries(summary).map(([name, s]) => {
    const base = summary[baselineOf(name)]!;
    return `| ${name} | ${baselineOf(name)} | ${s.p50Us.toFixed(1)} | ${pct(paired(name, (x) => x.p50Us))} | ${s.p99Us.toFixed(1)} | ${s.callsPerSecond.toFixed(0)} | ${pct(paired(name, (x) => x.callsPerSecond))} | ${s.cpuUsPerCall.toFixed(1)} | ${pct(s.cpuUsPerCall / base.cpuUsPerCall - 1)} |`;
  });
  const [load1] = loadavg();
  return [
    "# Client stack bench",
    "",
    `${new Date().toISOString()} · Bun ${Bun.version} · ${availableParallelism()} × ${cpus()[0]?.model ?? "cpu"} · load ${load1?.toFixed(2)}`,
    `${rounds} rounds; per round and variant ${sequentialCalls} sequential calls (latency), the variants taking turns call by call, then ${durationMs / 1000} s at ${concurrency} in flight (throughput) in 4 slices, the variants taking turns slice by slice (the order rotating). Latency and calls/s are medians of rounds, client CPU the minimum; "vs base" for latency and calls/s is the median over rounds of each round's ratio to the baseline measured in that round, CPU's the ratio of the minima.`,
    "Server: bench/servers/kit.ts in its own process, access log off. Calls: Echo (`NO_SIDE_EFFECTS`, so Connect GET) over Connect binary, keep-alive HTTP/1.1 (fetch). `bare` is connect-web's transport; the SDK's rows use the SDK's fetch transport.",
    "",
    "| client | against | p50 µs | p50 vs base | p99 µs | calls/s | calls/s vs base | client CPU µs/call | CPU vs base |",
    "|---|---|---|---|---|---|---|---|---|",
    ...rows,
    "",
    "Targets: ≤ 5% added p50 latency and ≤ 5% throughput loss for the client stack against a bare connect transport, same face.",
    "",
  ].join("\n");
}

/**
 * The stack alone, with no network: each face against its bare baseline on a
 * transport that answers on the next macrotask (setImmediate), CPU µs per
 * call, best of 7 rounds. Steadier than the loopback table on a busy machine.
 */
async function renderPipeline(): Promise<string> {
  const request = { message: "hello, meridian", number: 42 };
  const response = create(EchoResponseSchema, { message: request.message, number: 42, messageLength: 15 });
  const next: Transport = {
    unary: (method, _signal, _timeoutMs, _header, _input) =>
      new Promise((resolve) =>
        setImmediate(() =>
          resolve({ stream: false, service: method.parent, method, header: new Headers(), message: response, trailer: new Headers() } as never),
        ),
      ),
    stream: () => Promise.reject(new Error("no streams")),
  };
  const bare = createClient(Bench.desc, next);
  const sdk = createMeridianClient(Bench, { transport: next });
  const sdkEffect = createEffectClient(Bench, { transport: next });
  // The locator in local mode over the same transport: policies, telemetry and propagation, no socket.
  const registry = Layer.succeed(LocalServices, { transportOf: () => next, typeNames: [Bench.desc.typeName] });
  const runtime = ManagedRuntime.make(layerClient(Bench, { env: {} }).pipe(Layer.provide(registry)));
  const locator = await runtime.runPromise(Effect.service(ServiceClient(Bench)));
  const variants: Record<string, Call> = {
    bare: () => bare.echo(request),
    sdk: () => sdk.echo(request),
    "bare-effect": () => Effect.runPromise(Effect.tryPromise((signal) => bare.echo(request, { signal }))),
    "sdk-effect": () => Effect.runPromise(sdkEffect.echo(request)),
    locator: () => Effect.runPromise(locator.echo(request)),
  };
  const best: Record<string, number> = {};
  for (let round = 0; round < 7; round++) {
    for (const [name, call] of Object.entries(variants)) {
      for (let i = 0; i < 2000; i++) await call();
      const before = process.cpuUsage();
      for (let i = 0; i < 20_000; i++) await call();
      const cpu = process.cpuUsage(before);
      best[name] = Math.min(best[name] ?? Number.POSITIVE_INFINITY, (cpu.user + cpu.system) / 20_000);
    }
  }
  await runtime.dispose();
  const baselineOf = (name: string) => (name.includes("effect") || name === "locator" ? "bare-effect" : "bare");
  return [
    "## The stack alone (no network)",
    "",
    "A transport answering on the next macrotask (the locator in local mode over it); CPU µs per call, best of 7 rounds of 20,000 sequential calls. Connect's own deadline timer is in the transport, so not counted here.",
    "",
    "| client | against | CPU µs/call | added µs |",
    "|---|---|---|---|",
    ...Object.entries(best).map(
      ([name, us]) => `| ${name} | ${baselineOf(name)} | ${us.toFixed(2)} | ${(us - best[baselineOf(name)]!).toFixed(2)} |`,
    ),
    "",
  ].join("\n");
}

/** The kit bench server in its own process, on a free port, once it answers. */
async function startBenchServer(): Promise<{ url: string; stop: () => void }> {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port;
  probe.stop(true);
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "..", "servers", "kit.ts")], {
    env: { ...process.env, PORT: String(port), BENCH_ACCESS_LOG: "off" },
    stdout: "ignore",
    stderr: "inherit",
  });
  const url = `http://127.0.0.1:${port}`;
  for (let waitedMs = 0; ; waitedMs += 50) {
    if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) break;
    if (waitedMs > 15_000) {
      child.kill();
      throw new Error("the bench server did not start");
    }
    await Bun.sleep(50);
  }
  return { url, stop: () => child.kill() };
}
