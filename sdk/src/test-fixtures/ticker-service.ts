/**
 * A server-streaming service for tests only (no proto in proto/ streams yet):
 * WatchSecurities streams Security messages for a ListSecuritiesRequest.
 */
import { create, createFileRegistry, type DescService } from "@bufbuild/protobuf";
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import {
  file_meridian_universe_v1_universe,
  type ListSecuritiesRequestSchema,
  type SecuritySchema,
} from "../gen/meridian/universe/v1/universe_pb.js";
import { UnknownSymbol } from "../gen/meridian/universe/v1/errors_meridian.js";
import { meridianService } from "../service.js";

const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "meridian/test/v1/ticker.proto",
    package: "meridian.test.v1",
    syntax: "proto3",
    dependency: [file_meridian_universe_v1_universe.proto.name],
    service: [
      {
        name: "TickerService",
        method: [
          {
            name: "WatchSecurities",
            inputType: ".meridian.universe.v1.ListSecuritiesRequest",
            outputType: ".meridian.universe.v1.Security",
            serverStreaming: true,
          },
        ],
      },
    ],
  }),
  (name) => (name === file_meridian_universe_v1_universe.proto.name ? file_meridian_universe_v1_universe : undefined),
);

/** meridian.test.v1.TickerService, typed as protoc-gen-es would type it. */
export const TickerService = registry.getService("meridian.test.v1.TickerService") as DescService as GenService<{
  watchSecurities: {
    methodKind: "server_streaming";
    input: typeof ListSecuritiesRequestSchema;
    output: typeof SecuritySchema;
  };
}>;

/** TickerService with the universe's typed errors. */
export const Ticker = meridianService(TickerService, [UnknownSymbol] as const);
