/**
 * The server of bench/platform/grpc-unary.ts: the kit's gRPC listener (node:http2, h2c) serving
 * BenchService/Echo with an Effect handler, access log off. BENCH_GRPC_PATH=generic serves every
 * call through connect's generic handler (the listener without unary routes), as before the
 * fast path; anything else takes the kit's gRPC unary fast path. Listens on PORT.
 */
import { Effect, Exit, Scope } from "effect";
import { implement } from "../../packages/kit/src/server/implement.js";
import { createRoutes } from "../../packages/kit/src/server/routes.js";
import { listenGrpc } from "../../packages/kit/src/server/grpc-listener.js";
import { configureLogging } from "../../packages/kit/src/log.js";
import { Bench } from "../../sdk/src/gen/meridian/bench/v1/bench_meridian.js";
import { echoOf, portFromEnv } from "../echo.js";

configureLogging({ level: "warn" });
const binding = Effect.runSync(implement(Bench, { echo: (request) => Effect.succeed(echoOf(request)) }));
const routes = createRoutes([binding], { maxMessageBytes: 4 * 1024 * 1024, deadlineCapMs: 30_000 });
const scope = Effect.runSync(Scope.make());
const listener = await Effect.runPromise(
  Scope.provide(scope)(
    listenGrpc({
      host: "127.0.0.1",
      port: portFromEnv(),
      graceMs: 1_000,
      routes: process.env.BENCH_GRPC_PATH === "generic" ? { ...routes, unary: new Map() } : routes,
    }),
  ),
);
console.log(`listening ${listener.url}`);
process.on("SIGTERM", () => void Effect.runPromise(Scope.close(scope, Exit.void)).then(() => process.exit(0)));
