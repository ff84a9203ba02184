/**
 * raw-bun.ts with its bodies streamed the way connect's Fetch adapter streams
 * them: the request read chunk by chunk from `request.body`'s reader, the
 * response a pull ReadableStream fed by an async iterator. Against raw-bun.ts it
 * prices Bun's stream machinery alone, with no RPC framework.
 */
import { echoOf, echoPath, portFromEnv, type Echo } from "../echo.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: portFromEnv(),
  async fetch(request) {
    if (request.method !== "POST" || !request.url.endsWith(echoPath) || request.body === null) {
      return Response.json({ code: "unimplemented", message: "no such method" }, { status: 404 });
    }
    const reader = request.body.getReader();
    const chunks: Uint8Array[] = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value);
    const body = JSON.parse(decoder.decode(Buffer.concat(chunks))) as Partial<Echo>;
    if (typeof body.message !== "string" || typeof body.number !== "number") {
      return Response.json({ code: "invalid_argument", message: "bad request" }, { status: 400 });
    }
    const answer = echoOf({ message: body.message, number: body.number });
    const iterator = (async function* () {
      yield encoder.encode(JSON.stringify(answer));
    })();
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const r = await iterator.next();
        if (r.done === true) controller.close();
        else controller.enqueue(r.value);
      },
    });
    return new Response(stream, { headers: { "content-type": "application/json" } });
  },
});

process.once("SIGTERM", () => {
  void server.stop(true);
});
