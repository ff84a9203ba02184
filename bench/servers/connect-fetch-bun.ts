/**
 * connect-es's generic handlers on Bun.serve through connect's Fetch adapter
 * (`universalServerRequestFromFetch` / `universalServerResponseToFetch`), with a
 * plain handler: the kit's HTTP/1.1 listener path without the kit (no Effect,
 * no call record, no log, no metrics). Against connect-node-bun it compares the
 * two listener choices, Bun.serve + Fetch adapter and node:http, under Bun.
 */
import { createConnectRouter, createContextValues } from "@connectrpc/connect";
import { universalServerRequestFromFetch, universalServerResponseToFetch } from "@connectrpc/connect/protocol";
import { BenchService } from "../../sdk/src/gen/meridian/bench/v1/bench_pb.js";
import { echoOf, portFromEnv } from "../echo.js";

const router = createConnectRouter();
router.service(BenchService, { echo: (request) => echoOf(request) });
const routes = new Map(router.handlers.map((handler) => [handler.requestPath, handler]));

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: portFromEnv(),
  async fetch(request) {
    const handler = routes.get(new URL(request.url).pathname);
    if (handler === undefined) return Response.json({ code: "unimplemented", message: "no such method" }, { status: 404 });
    const response = await handler({
      ...universalServerRequestFromFetch(request, { httpVersion: "1.1" }),
      contextValues: createContextValues(),
    });
    return universalServerResponseToFetch(response);
  },
});

process.once("SIGTERM", () => {
  void server.stop(true);
});
