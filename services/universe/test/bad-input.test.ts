/**
 * What the universe service answers to bad requests, as a real process: each
 * gets its Connect (or gRPC) code with the detail a caller needs, and none of
 * them hurts the process, which keeps serving afterwards.
 */
import { expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { fromBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { ErrorInfoSchema, InvalidArgumentSchema } from "@meridian/sdk/common";
import { describeUniverse } from "./universe-process.js";

const service = "meridian.universe.v1.UniverseService";

interface ConnectErrorBody {
  readonly code: string;
  readonly message: string;
  readonly details?: ReadonlyArray<{ readonly type: string; readonly value: string }>;
}

/** The detail of the given type in a Connect error body, decoded from its binary value. */
function detail<Desc extends DescMessage>(body: ConnectErrorBody, schema: Desc): MessageShape<Desc> | undefined {
  const found = body.details?.find((d) => d.type === schema.typeName);
  return found === undefined ? undefined : fromBinary(schema, Buffer.from(found.value, "base64url"));
}

function violatedFields(body: ConnectErrorBody): string[] {
  return (detail(body, InvalidArgumentSchema)?.fieldViolations ?? []).map((v) => v.field).sort();
}

const valid = { symbol: "VALID", name: "Valid Corp.", sector: "SECTOR_ENERGY", currency: "USD", active: true };

/** Calls an unknown method over gRPC and resolves with the status code. */
function grpcStatusOf(grpcUrl: string, path: string, request: Uint8Array = new Uint8Array()): Promise<grpc.ServiceError | undefined> {
  const client = new grpc.Client(new URL(grpcUrl).host, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (bytes: Uint8Array) => Buffer.from(bytes),
      (bytes: Buffer) => bytes,
      request,
      (error) => {
        client.close();
        resolve(error ?? undefined);
      },
    );
  });
}

describeUniverse("universe answers bad input", (universe) => {
  const post = (method: string, body: string, contentType = "application/json") =>
    fetch(`${universe().httpUrl}/${service}/${method}`, { method: "POST", headers: { "content-type": contentType }, body });
  const postJson = async (method: string, message: unknown) => {
    const response = await post(method, JSON.stringify(message));
    return { status: response.status, body: (await response.json()) as ConnectErrorBody };
  };

  test("a malformed JSON body is invalid_argument", async () => {
    const response = await post("GetSecurity", '{"symbol": "AAPL"');
    expect(response.status).toBe(400);
    expect(((await response.json()) as ConnectErrorBody).code).toBe("invalid_argument");
  });

  test("a JSON body of the wrong shape is invalid_argument", async () => {
    const { status, body } = await postJson("GetSecurity", { symbol: 42, extra: true });
    expect(status).toBe(400);
    expect(body.code).toBe("invalid_argument");
  });

  const broken = [
    { rule: "a bad symbol", security: { ...valid, symbol: "bad sym" }, fields: ["security.symbol"] },
    { rule: "an empty name", security: { ...valid, name: "   " }, fields: ["security.name"] },
    { rule: 'currency "XXX"', security: { ...valid, currency: "XXX" }, fields: ["security.currency"] },
    { rule: "sector unspecified", security: { ...valid, sector: "SECTOR_UNSPECIFIED" }, fields: ["security.sector"] },
    {
      rule: "every rule at once",
      security: { symbol: "x", name: "", sector: "SECTOR_UNSPECIFIED", currency: "XXX" },
      fields: ["security.currency", "security.name", "security.sector", "security.symbol"],
    },
    { rule: "no security at all", security: undefined, fields: ["security"] },
  ];
  for (const { rule, security, fields } of broken) {
    test(`UpsertSecurity with ${rule} is invalid_argument naming ${fields.join(", ")}`, async () => {
      const { status, body } = await postJson("UpsertSecurity", { security });
      expect(status).toBe(400);
      expect(body.code).toBe("invalid_argument");
      expect(violatedFields(body)).toEqual(fields);
      expect(detail(body, ErrorInfoSchema)?.reason).toBe("InvalidArgument");
    });
  }

  test("nothing invalid was stored", async () => {
    const { status, body } = await postJson("GetSecurity", { symbol: "VALID" });
    expect(status).toBe(404);
    expect(body.code).toBe("not_found");
  });

  test("an unknown symbol is not_found with ErrorInfo reason UnknownSymbol", async () => {
    const { status, body } = await postJson("GetSecurity", { symbol: "NOSUCH" });
    expect(status).toBe(404);
    expect(body.code).toBe("not_found");
    expect(detail(body, ErrorInfoSchema)).toMatchObject({ reason: "UnknownSymbol", domain: "universe", metadata: { symbol: "NOSUCH" } });
  });

  test("a body over 4 MiB is resource_exhausted", async () => {
    const response = await post("GetSecurity", JSON.stringify({ symbol: "A".repeat(4 * 1024 * 1024) }));
    expect(response.status).toBe(429);
    expect(((await response.json()) as ConnectErrorBody).code).toBe("resource_exhausted");
  });

  test("a message over 4 MiB over gRPC is RESOURCE_EXHAUSTED (8)", async () => {
    // GetSecurityRequest { symbol = 1 }: tag 0x0a, a varint length, then the bytes.
    const symbol = Buffer.alloc(4 * 1024 * 1024 + 1, "A");
    const length = Buffer.from([0x81, 0x80, 0x80, 0x02]); // 4 MiB + 1 as a varint
    const request = Buffer.concat([Buffer.from([0x0a]), length, symbol]);
    const error = await grpcStatusOf(universe().grpcUrl, `/${service}/GetSecurity`, request);
    expect(error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  test("an unknown method is unimplemented: HTTP 404 over Connect", async () => {
    const { status, body } = await postJson("DeleteEverything", {});
    expect(status).toBe(404);
    expect(body.code).toBe("unimplemented");
  });

  test("an unknown method is unimplemented: status 12 over gRPC", async () => {
    const error = await grpcStatusOf(universe().grpcUrl, `/${service}/DeleteEverything`);
    expect(error?.code).toBe(grpc.status.UNIMPLEMENTED);
    const unknownService = await grpcStatusOf(universe().grpcUrl, "/meridian.nothing.v1.Nothing/Get");
    expect(unknownService?.code).toBe(grpc.status.UNIMPLEMENTED);
  });

  test("a POST with content type text/plain is HTTP 415", async () => {
    const response = await post("GetSecurity", '{"symbol":"AAPL"}', "text/plain");
    expect(response.status).toBe(415);
  });

  test("page_size 501 is invalid_argument naming page.page_size", async () => {
    const { status, body } = await postJson("ListSecurities", { page: { pageSize: 501 } });
    expect(status).toBe(400);
    expect(body.code).toBe("invalid_argument");
    expect(violatedFields(body)).toEqual(["page.page_size"]);
    const largest = await postJson("ListSecurities", { page: { pageSize: 500 } });
    expect(largest.status).toBe(200);
  });

  test("a garbage page_token is invalid_argument naming page.page_token", async () => {
    const { status, body } = await postJson("ListSecurities", { page: { pageToken: "garbage!" } });
    expect(status).toBe(400);
    expect(violatedFields(body)).toEqual(["page.page_token"]);
  });

  test("a page_token issued for other filters is invalid_argument", async () => {
    const first = await postJson("ListSecurities", { currency: "USD", page: { pageSize: 1 } });
    const token = (first.body as unknown as { page: { nextPageToken: string } }).page.nextPageToken;
    expect(token).not.toBe("");
    const { status, body } = await postJson("ListSecurities", { currency: "EUR", page: { pageSize: 1, pageToken: token } });
    expect(status).toBe(400);
    expect(violatedFields(body)).toEqual(["page.page_token"]);
  });

  test("after all of that the process is alive, serving, and logged no defect", async () => {
    expect(universe().isRunning()).toBe(true);
    const { status } = await postJson("GetSecurity", { symbol: "AAPL" });
    expect(status).toBe(200);
    const ready = await fetch(`${universe().httpUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(universe().logs().filter((l) => l.message === "defect in handler" || l.level === "fatal")).toEqual([]);
  });
});
