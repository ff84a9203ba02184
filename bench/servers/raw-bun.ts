/**
 * (b) The floor: Bun.serve doing the same JSON work by hand (parse the body,
 * build the response JSON), with no RPC framework, no Effect and no log.
 */
import { echoOf, echoPath, portFromEnv, type Echo } from "../echo.js";

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: portFromEnv(),
  async fetch(request) {
    if (request.method !== "POST" || !request.url.endsWith(echoPath)) {
      return Response.json({ code: "unimplemented", message: "no such method" }, { status: 404 });
    }
    const body = (await request.json()) as Partial<Echo>;
    if (typeof body.message !== "string" || typeof body.number !== "number") {
      return Response.json({ code: "invalid_argument", message: "bad request" }, { status: 400 });
    }
    return Response.json(echoOf({ message: body.message, number: body.number }));
  },
});

process.once("SIGTERM", () => {
  void server.stop(true);
});
