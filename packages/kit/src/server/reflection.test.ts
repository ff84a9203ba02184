/**
 * Server reflection as standard tools use it: `buf curl` lists and calls the
 * served services with no local proto files, over both reflection versions.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Effect, Layer, ManagedRuntime } from "effect";
import { Sector, Universe } from "@meridian/sdk/universe";
import {
  ServerReflection,
  type ServerReflectionResponse,
} from "../../../../sdk/src/gen/grpc/reflection/v1/reflection_pb.js";
import { layerHealth } from "../health.js";
import { layerLifecycle } from "../lifecycle.js";
import { implement } from "./implement.js";
import { serve, Server } from "./serve.js";

const buf = fileURLToPath(new URL("../../../../node_modules/.bin/buf", import.meta.url));

const universe = implement(Universe, {
  getSecurity: ({ symbol }) =>
    Effect.succeed({ security: { symbol, name: "Apple", sector: Sector.TECHNOLOGY, currency: "USD", active: true } }),
  listSecurities: () => Effect.succeed({ securities: [] }),
  upsertSecurity: () => Effect.die("not used"),
});

let runtime: ManagedRuntime.ManagedRuntime<Server, unknown>;
let grpcUrl = "";

beforeAll(async () => {
  runtime = ManagedRuntime.make(
    serve({ name: "reflection-test", services: [universe], config: { httpPort: 0, grpcPort: 0, logLevel: "warn" } }).pipe(
      Layer.provide(layerHealth),
      Layer.provideMerge(layerLifecycle),
    ),
  );
  grpcUrl = (await runtime.runPromise(Effect.service(Server))).grpc.url;
});

afterAll(async () => {
  await runtime?.dispose();
});

/** Runs `buf curl` over h2c with the gRPC protocol; its schema comes only from reflection. */
async function bufCurl(...args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const child = Bun.spawn([buf, "curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { exitCode, stdout, stderr };
}

describe("server reflection", () => {
  test("buf curl --list-methods lists every served method, the kit's own included", async () => {
    const listed = await bufCurl("--list-methods", grpcUrl);
    expect(listed.stderr).toBe("");
    expect(listed.stdout.trim().split("\n").sort()).toEqual([
      "grpc.health.v1.Health/Check",
      "grpc.health.v1.Health/List",
      "grpc.health.v1.Health/Watch",
      "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
      "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      "meridian.universe.v1.UniverseService/GetSecurity",
      "meridian.universe.v1.UniverseService/ListSecurities",
      "meridian.universe.v1.UniverseService/UpsertSecurity",
    ]);
  });

  test("the v1alpha protocol lists the same services, for older clients", async () => {
    const listed = await bufCurl("--reflect-protocol", "grpc-v1alpha", "--list-services", grpcUrl);
    expect(listed.stdout).toContain("meridian.universe.v1.UniverseService");
    expect(listed.stdout).toContain("grpc.health.v1.Health");
  });

  test("buf curl calls a method with its schema from reflection (no --schema)", async () => {
    const called = await bufCurl("-d", JSON.stringify({ symbol: "AAPL" }), `${grpcUrl}/meridian.universe.v1.UniverseService/GetSecurity`);
    expect(called.exitCode).toBe(0);
    // The enum's name, not its number: buf decoded the response with the reflected descriptors.
    expect(JSON.parse(called.stdout)).toEqual({
      security: { symbol: "AAPL", name: "Apple", sector: "SECTOR_TECHNOLOGY", currency: "USD", active: true },
    });
  });

  test("a file comes with its transitive dependencies once per stream; unknown names answer NOT_FOUND", async () => {
    const client = createClient(ServerReflection, createGrpcTransport({ baseUrl: grpcUrl }));
    const asked = [
      // A domain error: clients such as grpcurl resolve error details through reflection.
      { case: "fileContainingSymbol", value: "meridian.universe.v1.UnknownSymbol" },
      { case: "fileByFilename", value: "meridian/common/v1/options.proto" },
      { case: "fileContainingSymbol", value: "meridian.universe.v1.UniverseService.GetSecurity" },
      { case: "fileContainingSymbol", value: "no.such.Thing" },
    ] as const;
    async function* requests() {
      for (const messageRequest of asked) yield { messageRequest };
    }
    const answers: Array<ServerReflectionResponse["messageResponse"]> = [];
    for await (const response of client.serverReflectionInfo(requests())) answers.push(response.messageResponse);
    const filesOf = (answer: (typeof answers)[number] | undefined) => {
      if (answer?.case !== "fileDescriptorResponse") throw new Error(`expected files, got ${answer?.case}`);
      return answer.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
    };

    // errors.proto imports options.proto, which imports descriptor.proto.
    expect(filesOf(answers[0])).toEqual([
      "meridian/universe/v1/errors.proto",
      "meridian/common/v1/options.proto",
      "google/protobuf/descriptor.proto",
    ]);
    // Already sent on this stream: the file asked for, and nothing else again.
    expect(filesOf(answers[1])).toEqual(["meridian/common/v1/options.proto"]);
    // A method is found by its service's file.
    expect(filesOf(answers[2])).toEqual(["meridian/universe/v1/universe.proto", "meridian/common/v1/paging.proto"]);
    expect(answers[3]).toEqual({
      case: "errorResponse",
      value: expect.objectContaining({ errorCode: 5, errorMessage: "symbol no.such.Thing not found" }),
    });
  });
});
