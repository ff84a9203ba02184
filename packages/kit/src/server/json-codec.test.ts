/**
 * The compiled JSON codec against protobuf-es, over every message of every
 * proto in proto/ (the generated descriptors in sdk/src/gen): random messages
 * written by protobuf-es in its several JSON styles and read back by both,
 * random init shapes written by both, and inputs protobuf-es rejects (wrong
 * types, out of range, null, duplicate keys, unknown names, malformed JSON …),
 * which the codec must reject with protobuf-es's own error.
 */
import { describe, expect, test } from "bun:test";
import { Glob } from "bun";
import { join } from "node:path";
import {
  create,
  fromJsonString,
  ScalarType,
  toJson,
  toJsonString,
  type DescEnum,
  type DescField,
  type DescFile,
  type DescMessage,
  type JsonValue,
  type Message,
} from "@bufbuild/protobuf";
import { createFileRegistry } from "@bufbuild/protobuf";
import { FieldDescriptorProto_Label, FieldDescriptorProto_Type, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { jsonCodecOf } from "./json-codec.js";
import { EchoRequestSchema, EchoResponseSchema } from "../../../../sdk/src/gen/meridian/bench/v1/bench_pb.js";
import { SecuritySchema, ListSecuritiesRequestSchema } from "../../../../sdk/src/gen/meridian/universe/v1/universe_pb.js";

const gen = join(import.meta.dir, "../../../../sdk/src/gen");

async function allMessages(): Promise<DescMessage[]> {
  const files = new Set<DescFile>();
  for (const path of new Glob("**/*_pb.ts").scanSync(gen)) {
    const module = (await import(join(gen, path))) as Record<string, unknown>;
    for (const value of Object.values(module)) {
      if (typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "file") files.add(value as DescFile);
    }
  }
  const messages: DescMessage[] = [];
  const walk = (message: DescMessage) => {
    messages.push(message);
    message.nestedMessages.forEach(walk);
  };
  for (const file of files) file.messages.forEach(walk);
  return messages;
}

/**
 * A proto3 message with a field of every scalar type (singular, optional and repeated), a custom
 * json_name, an enum and itself nested: the kinds proto/ does not use yet (float, unsigned and
 * zigzag integers, bytes) are checked too.
 */
function everyKind(): DescMessage {
  const T = FieldDescriptorProto_Type;
  const scalars: Array<[string, FieldDescriptorProto_Type]> = [
    ["d", T.DOUBLE], ["f", T.FLOAT], ["i64", T.INT64], ["u64", T.UINT64], ["i32", T.INT32], ["f64", T.FIXED64],
    ["f32", T.FIXED32], ["b", T.BOOL], ["s", T.STRING], ["by", T.BYTES], ["u32", T.UINT32], ["sf32", T.SFIXED32],
    ["sf64", T.SFIXED64], ["s32", T.SINT32], ["s64", T.SINT64], ["e", T.ENUM],
  ];
  const field: Array<Record<string, unknown>> = [];
  let number = 1;
  for (const [name, type] of scalars) {
    const typeName = type === T.ENUM ? ".test.v1.Kind" : undefined;
    field.push({ name: `${name}_one`, number: number++, type, typeName, label: FieldDescriptorProto_Label.OPTIONAL });
    field.push({ name: `${name}_opt`, number: number++, type, typeName, label: FieldDescriptorProto_Label.OPTIONAL, proto3Optional: true, oneofIndex: field.filter((f) => f.proto3Optional).length });
    field.push({ name: `${name}_list`, number: number++, type, typeName, label: FieldDescriptorProto_Label.REPEATED });
  }
  field.push({ name: "custom_name", jsonName: "renamed", number: number++, type: T.STRING, label: FieldDescriptorProto_Label.OPTIONAL });
  field.push({ name: "child", number: number++, type: T.MESSAGE, typeName: ".test.v1.EveryKind", label: FieldDescriptorProto_Label.OPTIONAL });
  field.push({ name: "children", number: number++, type: T.MESSAGE, typeName: ".test.v1.EveryKind", label: FieldDescriptorProto_Label.REPEATED });
  const file = create(FileDescriptorProtoSchema, {
    name: "test/v1/every_kind.proto",
    package: "test.v1",
    syntax: "proto3",
    enumType: [{ name: "Kind", value: [{ name: "KIND_UNSPECIFIED", number: 0 }, { name: "KIND_A", number: 1 }, { name: "KIND_B", number: -5 }] }],
    messageType: [
      {
        name: "EveryKind",
        field: field as never,
        oneofDecl: field.filter((f) => f.proto3Optional).map((f) => ({ name: `_${String(f.name)}` })),
      },
    ],
  });
  for (const f of file.messageType[0]!.field) if (f.jsonName === "") f.jsonName = f.name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  return createFileRegistry(file, () => undefined).getMessage("test.v1.EveryKind")!;
}

const messages = [...(await allMessages()), everyKind()];

/** A small deterministic PRNG (mulberry32), so a failure replays. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T,>(items: ReadonlyArray<T>): T => items[int(items.length)]!;
  return { next, int, pick, chance: (p: number) => next() < p };
}
type Random = ReturnType<typeof random>;

const strings = ["", "a", "hello, meridian", "ÄÖü ß", "😀 emoji", 'quote " and \\ backslash', "line\nbreak\t", "\u0000\u001f", "</script>", "AAPL"];

function scalarValue(r: Random, scalar: ScalarType): unknown {
  switch (scalar) {
    case ScalarType.STRING:
      return r.pick(strings);
    case ScalarType.BOOL:
      return r.chance(0.5);
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return r.pick([0, 1, -1, 42, 2147483647, -2147483648, r.int(1000000) - 500000]);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return r.pick([0, 1, 42, 4294967295, r.int(1000000)]);
    case ScalarType.DOUBLE:
      return r.pick([0, -0, 1.5, -2.25, 1e21, 1e-7, 123456789.125, Number.MAX_VALUE, NaN, Infinity, -Infinity, r.next()]);
    case ScalarType.FLOAT:
      return r.pick([0, 1.5, -2.25, 3.4e38, NaN, Infinity, Math.fround(r.next())]);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return r.pick([0n, 1n, -1n, 9223372036854775807n, -9223372036854775808n, BigInt(r.int(1e9)) * 1000003n]);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return r.pick([0n, 1n, 18446744073709551615n, BigInt(r.int(1e9)) * 1000003n]);
    case ScalarType.BYTES:
      return r.pick([new Uint8Array(0), new Uint8Array([0]), new Uint8Array([251, 255, 191, 0, 1]), new Uint8Array(r.int(20)).map(() => r.int(256))]);
  }
}

function enumValue(r: Random, desc: DescEnum): number {
  return r.chance(0.9) ? r.pick(desc.values).number : desc.open ? 77 : desc.values[0]!.number;
}

/** A random message of `desc` (proto3 JSON round-trips, so no NaN int64 etc.). */
function randomMessage(r: Random, desc: DescMessage, depth = 0): Message {
  const init: Record<string, unknown> = {};
  for (const member of desc.members) {
    if (r.chance(0.25)) continue;
    if (member.kind === "oneof") {
      const field = r.pick(member.fields);
      const value = singular(r, field, depth);
      if (value !== undefined) init[member.localName] = { case: field.localName, value };
      continue;
    }
    const field = member;
    switch (field.fieldKind) {
      case "list": {
        const items: unknown[] = [];
        for (let i = r.int(4); i > 0; i--) {
          const item =
            field.listKind === "scalar" ? scalarValue(r, field.scalar)
            : field.listKind === "enum" ? enumValue(r, field.enum)
            : depth < 2 ? randomMessage(r, field.message, depth + 1) : undefined;
          if (item !== undefined) items.push(item);
        }
        init[field.localName] = items;
        break;
      }
      case "map": {
        const map: Record<string, unknown> = {};
        for (let i = r.int(3); i > 0; i--) {
          const key = field.mapKey === ScalarType.STRING ? r.pick(strings) : String(r.int(100));
          const value =
            field.mapKind === "scalar" ? scalarValue(r, field.scalar)
            : field.mapKind === "enum" ? enumValue(r, field.enum)
            : depth < 2 ? randomMessage(r, field.message, depth + 1) : undefined;
          if (value !== undefined) map[key] = value;
        }
        init[field.localName] = map;
        break;
      }
      default: {
        const value = singular(r, field, depth);
        if (value !== undefined) init[field.localName] = value;
      }
    }
  }
  return create(desc, init as never);
}

function singular(r: Random, field: DescField, depth: number): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return field.longAsString ? String(scalarValue(r, field.scalar)) : scalarValue(r, field.scalar);
    case "enum":
      return enumValue(r, field.enum);
    case "message":
      if (depth >= 2 || field.message.typeName === "google.protobuf.Any" || field.message.typeName.startsWith("google.protobuf.") && field.message.typeName !== "google.protobuf.Timestamp") return undefined;
      if (field.message.typeName === "google.protobuf.Timestamp") return { seconds: BigInt(r.int(2e9)), nanos: r.int(1e9) };
      return randomMessage(r, field.message, depth + 1);
    default:
      return undefined;
  }
}

/**
 * Everything about a value that matters, in order: key order, prototypes, types (bigint vs number,
 * -0, Uint8Array), so two values with the same `shape` are the same to every reader.
 */
function shape(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value !== "object") return `${typeof value}:${String(value)}`;
  if (value instanceof Uint8Array) return `u8[${value.join(",")}]`;
  if (Array.isArray(value)) return `[${value.map(shape).join(",")}]`;
  const proto = Object.getPrototypeOf(value) === Object.prototype ? "" : "<proto>";
  return `${proto}{${Object.keys(value)
    .map((k) => `${JSON.stringify(k)}:${shape((value as Record<string, unknown>)[k])}`)
    .join(",")}}`;
}

type Outcome = { ok: string } | { error: string };

function outcome(run: () => unknown): Outcome {
  try {
    const value = run();
    return { ok: typeof value === "string" ? value : shape(value) };
  } catch (e) {
    return { error: e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e) };
  }
}

/** Decodes `text` with both and expects the same message or the same error; returns whether it was accepted. */
function expectSameDecode(desc: DescMessage, text: string, ignoreUnknownFields: boolean): boolean {
  const slow = outcome(() => fromJsonString(desc, text, { ignoreUnknownFields }));
  const fast = outcome(() => jsonCodecOf(desc, { ignoreUnknownFields }).decode(text));
  if (JSON.stringify(fast) !== JSON.stringify(slow)) {
    throw new Error(`${desc.typeName} decode of ${text.slice(0, 2000)}\n  protobuf-es: ${JSON.stringify(slow).slice(0, 2000)}\n  codec:       ${JSON.stringify(fast).slice(0, 2000)}`);
  }
  return "ok" in slow;
}

function expectSameEncode(desc: DescMessage, init: unknown): boolean {
  const slow = outcome(() => toJsonString(desc, create(desc, init as never)));
  const fast = outcome(() => jsonCodecOf(desc, { ignoreUnknownFields: true }).encode(init));
  if (JSON.stringify(fast) !== JSON.stringify(slow)) {
    throw new Error(`${desc.typeName} encode of ${shape(init).slice(0, 2000)}\n  protobuf-es: ${JSON.stringify(slow).slice(0, 2000)}\n  codec:       ${JSON.stringify(fast).slice(0, 2000)}`);
  }
  return "ok" in slow;
}

/** A message's init shape: the same values without $typeName (nested too), as a handler returns them. */
function initOf(value: unknown): unknown {
  if (typeof value !== "object" || value === null || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map(initOf);
  const init: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (key !== "$typeName") init[key] = initOf(v);
  return init;
}

/** JSON values a field's value can be replaced with to make (mostly) invalid input. */
const wrongValues: JsonValue[] = [
  null,
  true,
  0,
  -0,
  1.5,
  -1,
  2147483648,
  -2147483649,
  4294967296,
  1e300,
  "",
  " 1",
  "1",
  "-7",
  "1.0",
  "1e3",
  "0x10",
  "NaN",
  "Infinity",
  "9223372036854775808",
  "-9223372036854775809",
  "18446744073709551616",
  "AAPL",
  "NOT_A_VALUE",
  "\ud800",
  "AAEC",
  "_-8",
  "!!",
  [],
  [null],
  [1, "a"],
  {},
  { a: { b: 1 } },
];

/** Raw texts JSON.parse sees differently from a JSON value: duplicates, escapes, big numbers. */
function rawVariants(r: Random, desc: DescMessage, text: string): string[] {
  const out = ["", "{", "[]", "null", "1", '"x"', "{}", " { } ", `${text} `, `${text}x`, '{"a":1,"a":2}', "{\"\\u0061\":1,\"a\":2}", `{"x": 1e999}`];
  const field = desc.fields.length > 0 ? r.pick(desc.fields) : undefined;
  if (field !== undefined && text.length > 2) {
    const body = text.slice(1, -1);
    const sample = JSON.stringify(toJson(desc, randomMessage(r, desc))).slice(1, -1);
    out.push(`{${body}${body ? "," : ""}${sample}}`); // every key twice, when sample shares some
    out.push(`{${body}${body ? "," : ""}${JSON.stringify(field.jsonName)}:null}`);
    out.push(`{${body}${body ? "," : ""}${JSON.stringify(field.name)}:null,${JSON.stringify(field.jsonName)}:null}`);
    out.push(`{${JSON.stringify(field.jsonName)}:1e999}`);
    out.push(`{${JSON.stringify(field.jsonName)}:-0}`);
    out.push(`{${JSON.stringify(field.jsonName)}:123456789012345678901234567890}`);
    out.push(`{"unknown":{"x":1,"x":2},${body}}`.replace(/,}$/, "}"));
    out.push(`{"\\u${field.jsonName.charCodeAt(0).toString(16).padStart(4, "0")}${field.jsonName.slice(1)}":null${body ? "," : ""}${body}}`);
  }
  return out;
}

describe("compiled JSON codec ≡ protobuf-es", () => {
  test("covers the protos: every message is compiled, most are specialised", () => {
    expect(messages.length).toBeGreaterThan(100);
    const specialised = messages.filter((m) => jsonCodecOf(m, { ignoreUnknownFields: true }).specialised);
    expect(specialised.length).toBeGreaterThan(messages.length / 2);
    // The shapes left to protobuf-es, and the ones taken.
    expect(jsonCodecOf(EchoRequestSchema, { ignoreUnknownFields: true }).specialised).toBe(true);
    expect(jsonCodecOf(ListSecuritiesRequestSchema, { ignoreUnknownFields: true }).specialised).toBe(true); // proto3 optional
    expect(jsonCodecOf(SecuritySchema, { ignoreUnknownFields: true }).specialised).toBe(true);
    expect(jsonCodecOf(messages.at(-1)!, { ignoreUnknownFields: true }).specialised).toBe(true); // every scalar kind
  });

  test("reads what protobuf-es writes, in every JSON style, as protobuf-es reads it", () => {
    let accepted = 0;
    for (const [i, desc] of messages.entries()) {
      const r = random(1000 + i);
      for (let n = 0; n < 25; n++) {
        const message = randomMessage(r, desc);
        for (const options of [
          {},
          { useProtoFieldName: true },
          { alwaysEmitImplicit: true },
          { enumAsInteger: true },
          { useProtoFieldName: true, alwaysEmitImplicit: true, enumAsInteger: true },
        ]) {
          let text: string;
          try {
            text = toJsonString(desc, message, options);
          } catch {
            continue; // e.g. an Any without a registry
          }
          for (const ignoreUnknownFields of [true, false]) if (expectSameDecode(desc, text, ignoreUnknownFields)) accepted++;
        }
        // Keys in another order, and int64 as JSON numbers where they are safe.
        const json = toJson(desc, message) as Record<string, JsonValue>;
        const reordered = Object.fromEntries(Object.entries(json).reverse());
        expectSameDecode(desc, JSON.stringify(reordered), true);
        const numeric = JSON.stringify(json).replace(/"(-?\d{1,15})"/g, "$1");
        expectSameDecode(desc, numeric, true);
      }
    }
    expect(accepted).toBeGreaterThan(messages.length * 100);
  }, 60_000);

  test("rejects what protobuf-es rejects, with its error, and accepts the rest alike", () => {
    let rejected = 0;
    for (const [i, desc] of messages.entries()) {
      const r = random(5000 + i);
      for (let n = 0; n < 2; n++) {
        const json = toJson(desc, randomMessage(r, desc), { alwaysEmitImplicit: true }) as Record<string, JsonValue>;
        const texts: string[] = rawVariants(r, desc, JSON.stringify(json));
        for (const field of desc.fields) {
          for (const wrong of wrongValues) texts.push(JSON.stringify({ ...json, [r.chance(0.8) ? field.jsonName : field.name]: wrong }));
          // Alone too: a field the codec cannot read elsewhere in the message would hand it all to protobuf-es.
          if (n === 0) for (const wrong of wrongValues) texts.push(JSON.stringify({ [field.jsonName]: wrong }));
          {
            const name = field.jsonName;
            // Inside a list, and inside a nested message.
            if (field.fieldKind === "list") texts.push(JSON.stringify({ ...json, [name]: [r.pick(wrongValues)] }));
            if (field.fieldKind === "message" && typeof json[field.jsonName] === "object" && json[field.jsonName] !== null) {
              const inner = json[field.jsonName] as Record<string, JsonValue>;
              const key = Object.keys(inner)[0] ?? "x";
              texts.push(JSON.stringify({ ...json, [field.jsonName]: { ...inner, [key]: r.pick(wrongValues) } }));
            }
          }
        }
        texts.push(JSON.stringify({ ...json, unknownField: { nested: [1, { deep: true }] } }));
        for (const text of texts) {
          for (const ignoreUnknownFields of [true, false]) if (!expectSameDecode(desc, text, ignoreUnknownFields)) rejected++;
        }
      }
    }
    expect(rejected).toBeGreaterThan(messages.length * 10);
  }, 60_000);

  test("writes messages and init shapes as toJsonString(create(…)) does", () => {
    for (const [i, desc] of messages.entries()) {
      const r = random(9000 + i);
      for (let n = 0; n < 25; n++) {
        const message = randomMessage(r, desc);
        expect(expectSameEncode(desc, message)).toBe(true);
        expect(expectSameEncode(desc, initOf(message))).toBe(true);
        // An init with some fields left out, and a message of another type as init.
        const partial = initOf(message) as Record<string, unknown>;
        for (const key of Object.keys(partial)) if (r.chance(0.5)) delete partial[key];
        expectSameEncode(desc, partial);
        expectSameEncode(desc, { ...partial, $typeName: "other.Type" });
      }
    }
  }, 60_000);

  test("refuses what toJsonString refuses: wrong types in a handler's answer, nulls in a message", () => {
    const wrong: unknown[] = [null, undefined, "x", 1, 1.5, -0, NaN, Infinity, 1n, true, [], [1], {}, new Uint8Array([1]), Symbol.iterator];
    for (const [i, desc] of messages.entries()) {
      const r = random(13000 + i);
      const message = randomMessage(r, desc);
      for (const field of desc.fields) {
        for (const value of wrong) {
          if (typeof value === "symbol") continue;
          expectSameEncode(desc, { ...(initOf(message) as object), [field.localName]: value });
          expectSameEncode(desc, { ...message, [field.localName]: value });
          if (field.fieldKind === "list") expectSameEncode(desc, { ...(initOf(message) as object), [field.localName]: [value] });
          // A message whose field is inherited, not its own: toJson writes explicit-presence fields only when own.
          const own: Record<string, unknown> = { ...message };
          delete own[field.localName];
          expectSameEncode(desc, Object.assign(Object.create({ [field.localName]: value }), own));
        }
      }
    }
  }, 60_000);

  test("the bench's Echo, by hand", () => {
    const request = jsonCodecOf(EchoRequestSchema, { ignoreUnknownFields: true });
    expect(request.decode('{"message":"hello, meridian","number":42}')).toEqual(
      create(EchoRequestSchema, { message: "hello, meridian", number: 42 }),
    );
    expect(() => request.decode('{"message":"a","message":"b"}')).toThrow('duplicate object key "message"');
    expect(() => request.decode('{"number":"x"}')).toThrow("cannot decode field meridian.bench.v1.EchoRequest.number from JSON");
    expect((request.decode('{"number":"42","other":{"a":1}}') as { number?: number }).number).toBe(42); // protobuf-es's slower forms still work
    const response = jsonCodecOf(EchoResponseSchema, { ignoreUnknownFields: true });
    expect(response.encode({ message: "hi", number: 0, messageLength: 2 })).toBe('{"message":"hi","messageLength":2}');
  });
});
