/** What one measured load run reports, whichever generator made it. */
export interface LoadResult {
  readonly generator: "wrk" | "socket-client";
  /** Responses completed in the measured period (warm-up excluded). */
  readonly requests: number;
  readonly durationS: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Responses with a status outside 2xx (wrk: status >= 400). */
  readonly non2xx: number;
  /** Connect, read, write and timeout errors. */
  readonly socketErrors: number;
  /** CPU the generator process used per second of its run (1 = one core busy): near 1, it may be the bottleneck. */
  readonly generatorCores?: number;
}
