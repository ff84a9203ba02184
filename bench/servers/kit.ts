/**
 * (a) The kit as every service runs it: `serve` + `implement` with an Effect
 * handler, Bun.serve with the Fetch adapter on HTTP/1.1, access log on
 * (LOG_LEVEL=info, one JSON line per call to stdout; the bench redirects it to a
 * file). BENCH_ACCESS_LOG=off sets LOG_LEVEL=warn, to price the log line alone.
 */
import { Effect } from "effect";
import { implement, runMain, serve } from "@meridian/kit";
import { Bench } from "../../sdk/src/gen/meridian/bench/v1/bench_meridian.js";
import { echoOf, portFromEnv } from "../echo.js";

const bench = implement(Bench, {
  echo: (request) => Effect.succeed(echoOf(request)),
});

runMain(
  serve({
    name: "bench",
    services: [bench],
    config: { host: "127.0.0.1", httpPort: portFromEnv(), grpcPort: 0, logLevel: process.env.BENCH_ACCESS_LOG === "off" ? "warn" : "info" },
  }),
  { name: "bench" },
);
