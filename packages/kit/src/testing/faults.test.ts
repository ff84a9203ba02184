import { describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { UniverseService } from "@meridian/sdk/universe";
import { scriptedTransport } from "../../../../sdk/src/test-fixtures/scripted-transport.js";
import { Faults } from "./faults.js";

const method = UniverseService.method.getSecurity;
const input = create(method.input);

describe("fault injection on a transport", () => {
  test("the pattern decides, call by call and repeating, which calls fail, drop or pass", async () => {
    const faults = new Faults({ pattern: "x.d", code: Code.ResourceExhausted, header: { "retry-after": "1" } });
    const transport = faults.transport(scriptedTransport());
    const outcome = async () => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 20);
      return transport.unary(method, controller.signal, 500, undefined, input).then(
        () => "pass",
        (e: ConnectError) => `${Code[e.code]}${e.metadata.get("retry-after") ?? ""}`,
      );
    };
    const outcomes = [];
    for (let i = 0; i < 6; i++) outcomes.push(await outcome());
    expect(outcomes).toEqual(["ResourceExhausted1", "pass", "Canceled", "ResourceExhausted1", "pass", "Canceled"]);
    expect(faults.calls.map((c) => c.fault)).toEqual(["fail", "pass", "drop", "fail", "pass", "drop"]);
    expect(faults.calls[0]?.timeoutMs).toBe(500);
  });

  test("latency delays each covered call; other methods and a reset pattern are left alone", async () => {
    const faults = new Faults({ latencyMs: 40, methods: ["getSecurity"] });
    const transport = faults.transport(scriptedTransport());
    let started = performance.now();
    await transport.unary(method, undefined, undefined, undefined, input);
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);
    started = performance.now();
    await transport.unary(UniverseService.method.listSecurities, undefined, undefined, undefined, create(UniverseService.method.listSecurities.input));
    expect(performance.now() - started).toBeLessThan(30);
    faults.set({});
    started = performance.now();
    await transport.unary(method, undefined, undefined, undefined, input);
    expect(performance.now() - started).toBeLessThan(30);
  });

  test("a dropped call with no abort signal still ends at its deadline", async () => {
    const faults = new Faults({ pattern: "d" });
    const error = await faults.transport(scriptedTransport()).unary(method, undefined, 30, undefined, input).catch((e: ConnectError) => e);
    expect((error as ConnectError).code).toBe(Code.DeadlineExceeded);
  });
});
