/**
 * A reusable load generator for one unary RPC over Connect JSON (HTTP/1.1, keep-alive), for a
 * warm-up and then a measured period. Closed loop (the default): `connections` workers each send
 * the next request as soon as the previous one answered. Open loop (`ratePerSecond`): requests
 * are due at a fixed rate whatever the answers, at most `connections` in flight; a request's
 * latency counts from when it was due, so a server that falls behind is not flattered by the
 * generator waiting for it (no coordinated omission). Every request body is made fresh from a
 * template, so calls that must differ (an idempotency key each) do.
 *
 * As a module: `runUnaryLoad(options)`. As its own process (so the load does not share the
 * caller's event loop): `bun bench/trading/load.ts '<LoadSpec as JSON>'` prints one JSON line,
 * a {@link UnaryLoadResult}.
 *
 * Template placeholders: `$KEY` (unique per request), `$ACCOUNT` and `$SYMBOL` (round-robin
 * over the lists given, offset per worker so concurrent requests spread over accounts).
 */

/** What to load, serialisable (it crosses to the generator process as JSON). */
export interface LoadSpec {
  /** The method's URL, e.g. http://127.0.0.1:8080/meridian.trading.v1.TradingService/PlaceOrder */
  readonly url: string;
  /** Extra request headers (e.g. an API key for the gateway). */
  readonly headers?: Readonly<Record<string, string>>;
  /** The JSON request body, with placeholders. */
  readonly template: string;
  readonly accounts?: ReadonlyArray<string>;
  readonly symbols?: ReadonlyArray<string>;
  /** Closed loop: the workers. Open loop: the most requests in flight at once. */
  readonly connections: number;
  /** Open loop: requests due per second (none: closed loop). */
  readonly ratePerSecond?: number;
  readonly warmupS: number;
  readonly durationS: number;
  /** Prefix of every $KEY (default: a random one per run). */
  readonly keyPrefix?: string;
  /**
   * Also report latency by window of this many seconds, by when each call was due, warm-up
   * included: how the latency moves during the run (a fresh platform's first seconds, say).
   */
  readonly windowS?: number;
}

/** The calls due in one window of a run, and their latencies. */
export interface LatencyWindow {
  /** Seconds from the start of the run (warm-up included) to the window's start. */
  readonly fromS: number;
  readonly calls: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** What one measured run saw. */
export interface UnaryLoadResult {
  /** Calls answered in the measured period (warm-up excluded), any status. */
  readonly requests: number;
  /** Of those, answered 200. */
  readonly ok: number;
  readonly durationS: number;
  /** Successful calls per second. */
  readonly okPerSecond: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Failed calls by Connect error code (or "network"). */
  readonly errors: Readonly<Record<string, number>>;
  /** Calls answered during the warm-up, any status. */
  readonly warmupRequests: number;
  /** Of those, answered 200. */
  readonly warmupOk: number;
  /** With `windowS`: every window of the run, in order. */
  readonly windows?: ReadonlyArray<LatencyWindow>;
}

/** Runs the load and measures it. */
export async function runUnaryLoad(spec: LoadSpec): Promise<UnaryLoadResult> {
  const keyPrefix = spec.keyPrefix ?? `load-${crypto.randomUUID().slice(0, 8)}`;
  const accounts = spec.accounts ?? [""];
  const symbols = spec.symbols ?? [""];
  const headers = { "content-type": "application/json", ...spec.headers };
  const latenciesMs: number[] = [];
  /** With windowS: [ms from the start to when the call was due, latency ms] of every call answered. */
  const timeline: Array<readonly [number, number]> = [];
  const errors: Record<string, number> = {};
  let requests = 0;
  let ok = 0;
  let warmupRequests = 0;
  let warmupOk = 0;
  let sequence = 0;

  const startedAt = performance.now();
  const measureFrom = startedAt + spec.warmupS * 1000;
  const stopAt = measureFrom + spec.durationS * 1000;

  const bodyFor = (worker: number, n: number) => {
    const id = sequence++;
    return spec.template
      .replaceAll("$KEY", `${keyPrefix}-${id}`)
      .replaceAll("$ACCOUNT", accounts[(worker + n * spec.connections) % accounts.length]!)
      .replaceAll("$SYMBOL", symbols[(worker * 7 + n) % symbols.length]!);
  };

  /** One call, timed from `dueAt`; false once the measured period is over. */
  const call = async (body: string, dueAt: number): Promise<boolean> => {
    let code = "ok";
    try {
      const response = await fetch(spec.url, { method: "POST", headers, body });
      const text = await response.text();
      if (response.status !== 200) code = (JSON.parse(text) as { code?: string }).code ?? `http_${response.status}`;
    } catch {
      code = "network";
    }
    const doneAt = performance.now();
    if (spec.windowS !== undefined && doneAt <= stopAt) timeline.push([dueAt - startedAt, doneAt - dueAt]);
    if (dueAt < measureFrom) {
      warmupRequests += 1;
      if (code === "ok") warmupOk += 1;
      return true;
    }
    if (doneAt > stopAt) return false; // answered after the period: not counted
    requests += 1;
    latenciesMs.push(doneAt - dueAt);
    if (code === "ok") ok += 1;
    else errors[code] = (errors[code] ?? 0) + 1;
    return true;
  };

  const worker = async (index: number) => {
    for (let n = 0; ; n++) {
      const sentAt = performance.now();
      if (sentAt >= stopAt || !(await call(bodyFor(index, n), sentAt))) return;
    }
  };

  // Open loop: every millisecond, send what has come due (late ones wait for a free slot, and
  // their wait counts in their latency).
  const openLoop = async (rate: number) => {
    const calls = new Set<Promise<boolean>>();
    for (let n = 0; ; ) {
      const now = performance.now();
      if (now >= stopAt) break;
      const due = callsDue(now - startedAt, rate);
      while (n < due && calls.size < spec.connections) {
        const dueAt = startedAt + (n * 1000) / rate;
        if (dueAt >= stopAt) break;
        const sent = call(bodyFor(n % spec.connections, Math.floor(n / spec.connections)), dueAt);
        calls.add(sent);
        void sent.finally(() => calls.delete(sent));
        n++;
      }
      await Bun.sleep(1);
    }
    await Promise.all(calls);
  };

  if (spec.ratePerSecond !== undefined) await openLoop(spec.ratePerSecond);
  else await Promise.all(Array.from({ length: spec.connections }, (_, i) => worker(i)));
  latenciesMs.sort((a, b) => a - b);
  return {
    requests,
    ok,
    durationS: spec.durationS,
    okPerSecond: ok / spec.durationS,
    p50Ms: percentile(latenciesMs, 0.5),
    p90Ms: percentile(latenciesMs, 0.9),
    p99Ms: percentile(latenciesMs, 0.99),
    maxMs: latenciesMs.at(-1) ?? 0,
    errors,
    warmupRequests,
    warmupOk,
    ...(spec.windowS === undefined ? {} : { windows: latencyWindows(timeline, spec.windowS * 1000) }),
  };
}

/** The q-quantile (0 ≤ q ≤ 1) of ascending `sorted`, 0 when empty. */
export function percentile(sorted: ReadonlyArray<number>, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/**
 * Calls grouped by the window of `windowMs` they were due in (`[due ms, latency ms]` each),
 * every window from the first to the last that has calls, empty ones included.
 */
export function latencyWindows(calls: ReadonlyArray<readonly [number, number]>, windowMs: number): LatencyWindow[] {
  const byWindow: number[][] = [];
  for (const [dueMs, latencyMs] of calls) (byWindow[Math.floor(dueMs / windowMs)] ??= []).push(latencyMs);
  return Array.from(byWindow, (latencies = [], i) => {
    latencies.sort((a, b) => a - b);
    return {
      fromS: (i * windowMs) / 1000,
      calls: latencies.length,
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      maxMs: latencies.at(-1) ?? 0,
    };
  });
}

/**
 * How many calls of an open loop at `rate` per second are due `elapsedMs` after it started: call
 * n is due at n × 1000 / rate ms, the first at once. (Until 2026-12-07 this was one fewer: every
 * call went out when the next one came due, and its latency, counted from when it was due, carried
 * a whole interval: 3.3 ms at 300/s, 1.1 ms at 900/s.)
 */
export function callsDue(elapsedMs: number, rate: number): number {
  return Math.floor((elapsedMs * rate) / 1000) + 1;
}

/** Runs the generator as a child process (its own event loop and CPU) and returns its result. */
export async function runUnaryLoadProcess(spec: LoadSpec): Promise<UnaryLoadResult & { readonly generatorCpuS?: number }> {
  const child = Bun.spawn([process.execPath, import.meta.path, JSON.stringify(spec)], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`load generator exited ${code}: ${stderr.trim()}`);
  const line = stdout.trim().split("\n").reverse().find((l) => l.startsWith("{"));
  if (line === undefined) throw new Error(`load generator printed no result:\n${stdout}\n${stderr}`);
  const cpu = child.resourceUsage()?.cpuTime.total;
  return { ...(JSON.parse(line) as UnaryLoadResult), ...(cpu === undefined ? {} : { generatorCpuS: Number(cpu) / 1e6 }) };
}

if (import.meta.main) {
  const spec = JSON.parse(process.argv[2] ?? "") as LoadSpec;
  console.log(JSON.stringify(await runUnaryLoad(spec)));
}
