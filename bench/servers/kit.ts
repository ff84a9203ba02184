/**
 * (a) The kit as every service runs it: `serve` + `implement` with an Effect
 * handler, Bun.serve with the Fetch adapter on HTTP/1.1, access log on
 * (LOG_LEVEL=info, one JSON line per call to stdout; the bench redirects it to a
 * file). BENCH_ACCESS_LOG=off sets LOG_LEVEL=warn, to price the log line alone;
 * BENCH_TRACING=on records a span per call (dropped by a discarding exporter), to price tracing.
 */
import { Effect, Layer } from "effect";
import { implement, layerTracingTo, runMain, serve } from "@meridian/kit";
import { Bench } from "../../sdk/src/gen/meridian/bench/v1/bench_meridian.js";
import { echoOf, portFromEnv } from "../echo.js";

const bench = implement(Bench, {
  echo: (request) => Effect.succeed(echoOf(request)),
});

/** Spans are made, batched and handed over, then dropped: tracing's cost without a collector. */
const discard = {
  export: (_spans: unknown, done: (result: { code: number }) => void) => done({ code: 0 /* ExportResultCode.SUCCESS */ }),
  shutdown: async () => {},
};
const tracing = process.env.BENCH_TRACING === "on" ? layerTracingTo(discard, { serviceName: "bench" }) : Layer.empty;

runMain(
  serve({
    name: "bench",
    services: [bench],
    config: { host: "127.0.0.1", httpPort: portFromEnv(), grpcPort: 0, logLevel: process.env.BENCH_ACCESS_LOG === "off" ? "warn" : "info" },
  }).pipe(Layer.provideMerge(tracing)),
  { name: "bench" },
);
