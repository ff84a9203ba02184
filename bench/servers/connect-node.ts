/**
 * (c) connect-node: `connectNodeAdapter` on node:http with a plain handler.
 * The bench bundles this file for Node (>= 22, what connect-node 2.2 needs) and
 * also runs it on Bun, to tell the runtime's share from the framework's.
 */
import * as http from "node:http";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { BenchService } from "../../sdk/src/gen/meridian/bench/v1/bench_pb.js";
import { echoOf, portFromEnv } from "../echo.js";

const handler = connectNodeAdapter({
  routes: (router) => {
    router.service(BenchService, { echo: (request) => echoOf(request) });
  },
});

const server = http.createServer(handler);
server.listen(portFromEnv(), "127.0.0.1");
process.once("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
});
