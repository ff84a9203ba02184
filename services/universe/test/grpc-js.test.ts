/**
 * The universe service through @grpc/grpc-js, a gRPC client that shares no
 * code with the kit or the SDK, fed the proto files as they are: proves the
 * GRPC_PORT listener speaks real gRPC (HTTP/2, trailers, status details).
 */
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { ErrorInfoSchema, InvalidArgumentSchema } from "@meridian/sdk/common";
import { UnknownSymbolSchema } from "@meridian/sdk/universe";
import { describeUniverse, repoRoot } from "./universe-process.js";

type Callback = (error: grpc.ServiceError | null, response?: Record<string, unknown>) => void;
type UniverseStub = grpc.Client & Record<"GetSecurity" | "ListSecurities" | "UpsertSecurity", (request: object, callback: Callback) => void>;

let UniverseService: (new (address: string, credentials: grpc.ChannelCredentials) => UniverseStub) & {
  readonly service: grpc.ServiceDefinition;
};

beforeAll(async () => {
  const definition = await protoLoader.load("meridian/universe/v1/universe.proto", {
    includeDirs: [join(repoRoot, "proto")],
    keepCase: true,
    enums: String,
    defaults: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    meridian: { universe: { v1: { UniverseService: typeof UniverseService } } };
  };
  UniverseService = loaded.meridian.universe.v1.UniverseService;
});

/** Calls a unary method; resolves with the response or the ServiceError. */
function call(
  client: UniverseStub,
  method: "GetSecurity" | "ListSecurities" | "UpsertSecurity",
  request: object,
): Promise<{ response?: Record<string, unknown>; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    client[method](request, (error, response) => resolve(error === null ? { response } : { error }));
  });
}

/** The `google.rpc.Status` in grpc-status-details-bin: its details, as (type, bytes). */
function statusDetails(error: grpc.ServiceError): Array<{ type: string; value: Uint8Array }> {
  const [bin] = error.metadata.get("grpc-status-details-bin");
  if (bin === undefined) return [];
  const details: Array<{ type: string; value: Uint8Array }> = [];
  const status = new BinaryReader(typeof bin === "string" ? Buffer.from(bin, "base64") : bin);
  while (status.pos < status.len) {
    const [field, wireType] = status.tag();
    if (field !== 3) {
      status.skip(wireType);
      continue;
    }
    const any = new BinaryReader(status.bytes());
    let type = "";
    let value: Uint8Array = new Uint8Array();
    while (any.pos < any.len) {
      const [anyField, anyWireType] = any.tag();
      if (anyField === 1) type = any.string().replace(/^.*\//, "");
      else if (anyField === 2) value = any.bytes();
      else any.skip(anyWireType);
    }
    details.push({ type, value });
  }
  return details;
}

describeUniverse("universe through @grpc/grpc-js", (universe) => {
  let client: UniverseStub;
  beforeAll(() => {
    client = new UniverseService(new URL(universe().grpcUrl).host, grpc.credentials.createInsecure());
  });
  afterAll(() => client?.close());

  test("GetSecurity answers OK with the security", async () => {
    const { response, error } = await call(client, "GetSecurity", { symbol: "SHEL" });
    expect(error).toBeUndefined();
    expect(response?.security).toMatchObject({ symbol: "SHEL", name: "Shell plc", sector: "SECTOR_ENERGY", currency: "GBP", active: true });
  });

  test("ListSecurities pages through the securities", async () => {
    const first = await call(client, "ListSecurities", { currency: "CHF", page: { page_size: 1 } });
    expect(first.error).toBeUndefined();
    const [only] = first.response?.securities as Array<{ symbol: string }>;
    const token = (first.response?.page as { next_page_token: string }).next_page_token;
    expect(token).not.toBe("");
    const second = await call(client, "ListSecurities", { currency: "CHF", page: { page_size: 1, page_token: token } });
    const symbols = [only?.symbol, ...(second.response?.securities as Array<{ symbol: string }>).map((s) => s.symbol)];
    expect(symbols.sort()).toEqual(["NESN", "NOVN"]);
  });

  test("an unknown symbol is NOT_FOUND (5) with ErrorInfo and UnknownSymbol in grpc-status-details-bin", async () => {
    const { error } = await call(client, "GetSecurity", { symbol: "NOSUCH" });
    expect(error?.code).toBe(grpc.status.NOT_FOUND);
    expect(error?.details).toContain("NOSUCH");
    const details = statusDetails(error!);
    expect(details.map((d) => d.type)).toEqual(["meridian.common.v1.ErrorInfo", "meridian.universe.v1.UnknownSymbol"]);
    const info = fromBinary(ErrorInfoSchema, details[0]!.value);
    expect(info).toMatchObject({ reason: "UnknownSymbol", domain: "universe", metadata: { symbol: "NOSUCH" } });
    expect(fromBinary(UnknownSymbolSchema, details[1]!.value).symbol).toBe("NOSUCH");
  });

  test("a rule violation is INVALID_ARGUMENT (3) naming each field in the InvalidArgument detail", async () => {
    const { error } = await call(client, "UpsertSecurity", { security: { symbol: "bad", name: " ", currency: "usd" } });
    expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    const detail = statusDetails(error!).find((d) => d.type === "meridian.common.v1.InvalidArgument");
    expect(detail).toBeDefined();
    const fields = fromBinary(InvalidArgumentSchema, detail!.value).fieldViolations.map((v) => v.field);
    expect(fields.sort()).toEqual(["security.currency", "security.name", "security.sector", "security.symbol"]);
  });

  test("UpsertSecurity over gRPC creates, and the log names the gRPC protocol", async () => {
    const security = { symbol: "GRPCJS", name: "grpc-js Corp.", sector: "SECTOR_UTILITIES", currency: "USD", active: true };
    const metadata = new grpc.Metadata();
    metadata.set("x-request-id", "grpc-js-upsert");
    const created = await new Promise<Record<string, unknown>>((resolve, reject) =>
      client.makeUnaryRequest(
        "/meridian.universe.v1.UniverseService/UpsertSecurity",
        (value: object) => UniverseService.service.UpsertSecurity!.requestSerialize(value),
        (bytes: Buffer) => UniverseService.service.UpsertSecurity!.responseDeserialize(bytes) as Record<string, unknown>,
        { security },
        metadata,
        (error, response) => (error ? reject(error) : resolve(response!)),
      ),
    );
    expect(created).toMatchObject({ created: true, security });
    const line = await universe().waitForLog((l) => l.correlation_id === "grpc-js-upsert");
    expect(line).toMatchObject({ protocol: "grpc", code: "ok", method: "meridian.universe.v1.UniverseService/UpsertSecurity" });
  });
});
