/**
 * A service with a method that is not safe to send twice, for tests only (no
 * proto in proto/ has one yet): LedgerService.RecordTrade declares no
 * idempotency, so clients must never retry it without an idempotency key.
 */
import { create, createFileRegistry, type DescService } from "@bufbuild/protobuf";
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import {
  file_meridian_universe_v1_universe,
  type UpsertSecurityRequestSchema,
  type UpsertSecurityResponseSchema,
} from "../gen/meridian/universe/v1/universe_pb.js";
import { UnknownSymbol } from "../gen/meridian/universe/v1/errors_meridian.js";
import { meridianService } from "../service.js";

const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "meridian/test/v1/ledger.proto",
    package: "meridian.test.v1",
    syntax: "proto3",
    dependency: [file_meridian_universe_v1_universe.proto.name],
    service: [
      {
        name: "LedgerService",
        method: [
          {
            name: "RecordTrade",
            inputType: ".meridian.universe.v1.UpsertSecurityRequest",
            outputType: ".meridian.universe.v1.UpsertSecurityResponse",
          },
        ],
      },
    ],
  }),
  (name) => (name === file_meridian_universe_v1_universe.proto.name ? file_meridian_universe_v1_universe : undefined),
);

/** meridian.test.v1.LedgerService, typed as protoc-gen-es would type it. */
export const LedgerService = registry.getService("meridian.test.v1.LedgerService") as DescService as GenService<{
  recordTrade: {
    methodKind: "unary";
    input: typeof UpsertSecurityRequestSchema;
    output: typeof UpsertSecurityResponseSchema;
  };
}>;

/** LedgerService with the universe's typed errors; its domain is "test". */
export const Ledger = meridianService(LedgerService, [UnknownSymbol] as const);
