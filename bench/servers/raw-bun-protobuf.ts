/**
 * raw-bun.ts with protobuf-es's JSON codec in place of JSON.parse/stringify
 * (what any Connect-correct server must do: proto3 JSON names, defaults,
 * unknown fields). Against raw-bun.ts it prices the codec alone.
 */
import { create, fromJsonString, toJsonString } from "@bufbuild/protobuf";
import { EchoRequestSchema, EchoResponseSchema } from "../../sdk/src/gen/meridian/bench/v1/bench_pb.js";
import { echoOf, echoPath, portFromEnv } from "../echo.js";

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: portFromEnv(),
  async fetch(request) {
    if (request.method !== "POST" || !request.url.endsWith(echoPath)) {
      return Response.json({ code: "unimplemented", message: "no such method" }, { status: 404 });
    }
    const input = fromJsonString(EchoRequestSchema, await request.text(), { ignoreUnknownFields: true });
    const output = toJsonString(EchoResponseSchema, create(EchoResponseSchema, echoOf(input)));
    return new Response(output, { headers: { "content-type": "application/json" } });
  },
});

process.once("SIGTERM", () => {
  void server.stop(true);
});
