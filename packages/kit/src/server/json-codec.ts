/**
 * A JSON codec per message type, compiled once from its descriptor: straight-line
 * code that reads the request from JSON.parse's value and builds the answer's
 * JSON value for one JSON.stringify, instead of protobuf-es's generic walk (key
 * maps, seen-sets, a duplicate-key scan, create() then a writer per field) on
 * every call.
 *
 * It is a fast path, never a second implementation of proto3 JSON: it accepts
 * only the canonical forms it can check cheaply (a string for a string field,
 * an integer number in range for int32, a decimal string or safe integer for
 * int64, an enum's name or number, …) and hands anything else to protobuf-es
 * whole — so every input protobuf-es rejects is rejected with protobuf-es's own
 * error, and every input accepted here gives the message protobuf-es gives.
 * Shapes it does not specialise (oneofs, maps, well-known types, proto2 and
 * editions files, 64-bit fields as strings) go to protobuf-es for the whole message.
 * json-codec.test.ts proves the equivalence over every message of proto/.
 */
import {
  create,
  fromJsonString,
  protoInt64,
  ScalarType,
  toJsonString,
  type DescField,
  type DescMessage,
  type Message,
} from "@bufbuild/protobuf";
import { base64Decode, base64Encode } from "@bufbuild/protobuf/wire";

/** The JSON of one message type. */
export interface JsonCodec {
  /** Parses a JSON text (protobuf-es's `fromJsonString`, same result, same errors). */
  readonly decode: (json: string) => Message;
  /** Writes a message or its init shape (protobuf-es's `toJsonString(create(…))`, same text, same errors). */
  readonly encode: (init: unknown) => string;
  /** False when protobuf-es does all of this type's work (a shape not specialised). */
  readonly specialised: boolean;
}

/** The reading options the kit uses (protobuf-es's defaults otherwise). */
export interface JsonReadOptions {
  readonly ignoreUnknownFields: boolean;
}

const codecs = new WeakMap<DescMessage, Map<boolean, JsonCodec>>();

/** The codec of a message type, compiled on first use. */
export function jsonCodecOf(schema: DescMessage, options: JsonReadOptions): JsonCodec {
  let byOption = codecs.get(schema);
  if (byOption === undefined) codecs.set(schema, (byOption = new Map()));
  let codec = byOption.get(options.ignoreUnknownFields);
  if (codec === undefined) {
    codec = compile(schema, options);
    byOption.set(options.ignoreUnknownFields, codec);
  }
  return codec;
}

/** Returned by compiled code that met something it does not specialise: protobuf-es takes over. */
const BAIL = Symbol("protobuf-es");

/** protobuf-es's recursion limit for reading JSON. */
const RECURSION_LIMIT = 100;
const EDITION_PROTO3 = 999;
const IMPLICIT = 2;

function compile(schema: DescMessage, options: JsonReadOptions): JsonCodec {
  const read = { ignoreUnknownFields: options.ignoreUnknownFields };
  const slowDecode = (json: string) => fromJsonString(schema, json, read);
  const slowEncode = (init: unknown) => toJsonString(schema, create(schema, init as never));
  if (!specialisable(schema, new Set())) return { decode: slowDecode, encode: slowEncode, specialised: false };
  const program = new Program(options.ignoreUnknownFields);
  program.message(schema);
  const { decode, encode } = program.build();
  return {
    specialised: true,
    decode: (json) => {
      let value: unknown;
      try {
        value = JSON.parse(json);
      } catch {
        return slowDecode(json); // throws protobuf-es's error
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) return slowDecode(json);
      const context = { members: 0 };
      const message = decode(value, 1, context);
      // JSON.parse keeps the last of duplicate keys; protobuf-es rejects them. Every object member has
      // exactly one ":" outside strings, so as many colons as keys read means no key was repeated.
      if (message === BAIL || context.members !== countMembers(json)) return slowDecode(json);
      return message as Message;
    },
    encode: (init) => {
      if (typeof init !== "object" || init === null || Array.isArray(init)) return slowEncode(init);
      const json = encode(init, false);
      return json === BAIL ? slowEncode(init) : JSON.stringify(json);
    },
  };
}

/** Proto3 messages of scalars, enums, lists and such messages; names that are safe as object keys. */
function specialisable(desc: DescMessage, visiting: Set<DescMessage>): boolean {
  if (visiting.has(desc)) return true; // recursive types: decided by the rest of the walk
  visiting.add(desc);
  if (desc.file.edition !== EDITION_PROTO3 || desc.typeName.startsWith("google.protobuf.")) return false;
  if (desc.oneofs.length > 0 || !protoInt64.supported) return false;
  for (const field of desc.fields) {
    for (const name of [field.name, field.jsonName, field.localName]) {
      if (name === "__proto__" || /^(0|[1-9]\d*)$/.test(name)) return false; // JSON.stringify would reorder index keys
    }
    switch (field.fieldKind) {
      case "scalar":
        if (field.longAsString) return false;
        break;
      case "enum":
        if (field.enum.typeName === "google.protobuf.NullValue") return false; // JSON null is its value
        break;
      case "message":
        if (!specialisable(field.message, visiting)) return false;
        break;
      case "list":
        if (field.listKind === "scalar" && field.longAsString) return false;
        if (field.listKind === "enum" && field.enum.typeName === "google.protobuf.NullValue") return false;
        if (field.listKind === "message" && !specialisable(field.message, visiting)) return false;
        break;
      default:
        return false; // maps
    }
  }
  return true;
}

/** Counts object members in a JSON text JSON.parse accepted: the colons outside strings. */
function countMembers(json: string): number {
  let count = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 58 /* : */) count++;
    else if (c === 34 /* " */) {
      for (i++; i < json.length; i++) {
        const d = json.charCodeAt(i);
        if (d === 92 /* \ */) i++;
        else if (d === 34) break;
      }
    }
  }
  return count;
}

/** Object members in a parsed JSON value (an unknown field's value): counted, as their colons are. */
function countKeys(value: unknown): number {
  if (typeof value !== "object" || value === null) return 0;
  if (Array.isArray(value)) {
    let count = 0;
    for (const item of value) count += countKeys(item);
    return count;
  }
  const keys = Object.keys(value);
  let count = keys.length;
  for (const key of keys) count += countKeys((value as Record<string, unknown>)[key]);
  return count;
}

type Decoder = (json: object, depth: number, context: { members: number }) => unknown;
type Encoder = (value: object, strict: boolean) => object | typeof BAIL;

const q = JSON.stringify;

/**
 * The source of one root type's decoders and encoders (one function each per reachable message,
 * `d0`/`e0` for the root), and the constants they share.
 */
class Program {
  private readonly index = new Map<DescMessage, number>();
  private readonly sources: string[] = [];
  /** Constants the code refers to as K[i]: enum maps, zero values, value sets. */
  private readonly constants: unknown[] = [];

  constructor(private readonly ignoreUnknownFields: boolean) {}

  build(): { decode: Decoder; encode: Encoder } {
    const source = `"use strict";\n${this.sources.join("\n")}\nreturn { decode: d0, encode: e0 };`;
    const make = new Function("BAIL", "K", "base64Decode", "base64Encode", "countKeys", "hasOwn", source) as (
      ...args: unknown[]
    ) => { decode: Decoder; encode: Encoder };
    return make(BAIL, this.constants, base64Decode, base64Encode, countKeys, Object.prototype.hasOwnProperty);
  }

  /** The number of a message's functions, emitting them on first use. */
  message(desc: DescMessage): number {
    const known = this.index.get(desc);
    if (known !== undefined) return known;
    const n = this.index.size;
    this.index.set(desc, n);
    this.sources.push(this.decoder(desc, n), this.encoder(desc, n));
    return n;
  }

  private constant(value: unknown): string {
    this.constants.push(value);
    return `K[${this.constants.length - 1}]`;
  }

  // ---- decoding: JSON value → message, as protobuf-es's fromJson builds it ----

  private decoder(desc: DescMessage, n: number): string {
    // The message as create(desc) makes it: members in declaration order, zero values of
    // implicit-presence fields (the same constants), lists empty, the rest absent.
    const zero = create(desc) as unknown as Record<string, unknown>;
    const literal = [`"$typeName": ${q(desc.typeName)}`];
    for (const field of desc.fields) {
      if (field.fieldKind === "list") literal.push(`${q(field.localName)}: []`);
      else if (field.fieldKind !== "message" && field.presence === IMPLICIT) {
        const value = zero[field.localName];
        const code =
          typeof value === "string" ? q(value)
          : typeof value === "number" ? String(value)
          : typeof value === "boolean" ? String(value)
          : typeof value === "bigint" ? `${value}n`
          : this.constant(value);
        literal.push(`${q(field.localName)}: ${code}`);
      }
    }
    const cases = desc.fields.map((field, i) => {
      const labels = [...new Set([field.jsonName, field.name])].map((name) => `case ${q(name)}:`).join(" ");
      return `${labels} {
        if (s${i}) return BAIL;
        s${i} = true;
        ${this.readField(field)}
        break;
      }`;
    });
    const unknown = this.ignoreUnknownFields
      ? `if (typeof v === "object" && v !== null) context.members += countKeys(v);`
      : `return BAIL;`;
    return `function d${n}(json, depth, context) {
      if (depth > ${RECURSION_LIMIT}) return BAIL;
      const keys = Object.keys(json);
      context.members += keys.length;
      const m = { ${literal.join(", ")} };
      ${desc.fields.map((_, i) => `let s${i} = false;`).join(" ")}
      for (let k = 0; k < keys.length; k++) {
        const key = keys[k];
        const v = json[key];
        switch (key) {
          ${cases.join("\n")}
          default: {
            ${unknown}
          }
        }
      }
      return m;
    }`;
  }

  /** Reads JSON value `v` into field `field` of message `m`, or returns BAIL. */
  private readField(field: DescField): string {
    const target = `m[${q(field.localName)}]`;
    switch (field.fieldKind) {
      case "scalar":
        return this.readScalar(field.scalar, "v", (x) => `${target} = ${x};`);
      case "enum":
        return this.readEnum(field, "v", (x) => `${target} = ${x};`);
      case "message":
        return this.readMessage(field.message, "v", (x) => `${target} = ${x};`);
      case "list": {
        const push = (x: string) => `items.push(${x});`;
        const item =
          field.listKind === "scalar" ? this.readScalar(field.scalar, "w", push)
          : field.listKind === "enum" ? this.readEnum(field, "w", push)
          : this.readMessage(field.message, "w", push);
        return `if (!Array.isArray(v)) return BAIL;
          const items = ${target};
          for (let x = 0; x < v.length; x++) {
            const w = v[x];
            ${item}
          }`;
      }
      default:
        throw new Error(`not specialised: ${field.toString()}`);
    }
  }

  private readScalar(scalar: ScalarType, v: string, assign: (x: string) => string): string {
    switch (scalar) {
      case ScalarType.STRING:
        return `if (typeof ${v} !== "string" || !${v}.isWellFormed()) return BAIL; ${assign(v)}`;
      case ScalarType.BOOL:
        return `if (typeof ${v} !== "boolean") return BAIL; ${assign(v)}`;
      case ScalarType.INT32:
      case ScalarType.SINT32:
      case ScalarType.SFIXED32:
        return `if (typeof ${v} !== "number" || (${v} | 0) !== ${v}) return BAIL; ${assign(v)}`;
      case ScalarType.UINT32:
      case ScalarType.FIXED32:
        return `if (typeof ${v} !== "number" || (${v} >>> 0) !== ${v}) return BAIL; ${assign(v)}`;
      case ScalarType.DOUBLE:
        return `if (typeof ${v} !== "number" || !Number.isFinite(${v})) return BAIL; ${assign(v)}`;
      case ScalarType.FLOAT:
        return `if (typeof ${v} !== "number" || !Number.isFinite(Math.fround(${v}))) return BAIL; ${assign(v)}`;
      case ScalarType.INT64:
      case ScalarType.SINT64:
      case ScalarType.SFIXED64:
        return this.readLong(v, /^-?[0-9]+$/, -(2n ** 63n), 2n ** 63n - 1n, assign);
      case ScalarType.UINT64:
      case ScalarType.FIXED64:
        return this.readLong(v, /^[0-9]+$/, 0n, 2n ** 64n - 1n, assign);
      case ScalarType.BYTES:
        return `if (typeof ${v} !== "string") return BAIL;
          let bytes;
          if (${v} === "") bytes = new Uint8Array(0);
          else try { bytes = base64Decode(${v}); } catch { return BAIL; }
          ${assign("bytes")}`;
    }
  }

  /** A decimal string (protobuf-es also takes BigInt's other syntaxes; those go to it) or a safe integer. */
  private readLong(v: string, digits: RegExp, min: bigint, max: bigint, assign: (x: string) => string): string {
    return `let long;
      if (typeof ${v} === "string" && ${this.constant(digits)}.test(${v})) {
        long = BigInt(${v});
        if (long < ${min}n || long > ${max}n) return BAIL;
      } else if (typeof ${v} === "number" && Number.isSafeInteger(${v}) && ${v} >= ${Number(min)}) long = BigInt(${v});
      else return BAIL;
      ${assign("long")}`;
  }

  private readEnum(field: DescField & { enum: NonNullable<DescField["enum"]> }, v: string, assign: (x: string) => string): string {
    const desc = field.enum;
    // As protobuf-es: JSON names first, then proto names, which win a clash.
    const numbers = new Map<string, number>();
    for (const value of desc.values) numbers.set(value.jsonName, value.number);
    for (const value of desc.values) numbers.set(value.name, value.number);
    const known = desc.open ? `(${v} | 0) === ${v}` : `${this.constant(new Set(desc.values.map((value) => value.number)))}.has(${v})`;
    const unknownName = this.ignoreUnknownFields ? "" : "else return BAIL;"; // ignored: the field is left as it is
    return `if (typeof ${v} === "string") {
        const number = ${this.constant(numbers)}.get(${v});
        if (number !== undefined) { ${assign("number")} }
        ${unknownName}
      } else if (typeof ${v} === "number" && Number.isInteger(${v}) && ${known}) { ${assign(v)} }
      else return BAIL;`;
  }

  private readMessage(desc: DescMessage, v: string, assign: (x: string) => string): string {
    const n = this.message(desc);
    return `if (typeof ${v} !== "object" || ${v} === null || Array.isArray(${v})) return BAIL;
      const child = d${n}(${v}, depth + 1, context);
      if (child === BAIL) return BAIL;
      ${assign("child")}`;
  }

  // ---- encoding: message or init shape → the JSON value toJson(create(…)) makes, for one JSON.stringify ----

  /**
   * `e<n>(value, strict)`: `value` is a message of this type when its $typeName says so (used as
   * it is, as create does) and otherwise an init shape (zero values where unset, as create fills in).
   * `strict`: the parent was a message, so this must be one too (create converts nothing under it).
   */
  private encoder(desc: DescMessage, n: number): string {
    const fields = desc.fields.concat().sort((a, b) => a.number - b.number); // toJson's key order
    const body = fields.map((field) => {
      const local = q(field.localName);
      return `x = value[${local}];\n${this.writeField(field, `o[${q(field.jsonName)}]`, local)}`;
    });
    return `function e${n}(value, strict) {
      const msg = value.$typeName === ${q(desc.typeName)};
      if (strict && !msg) return BAIL;
      const o = {};
      let x;
      ${body.join("\n")}
      return o;
    }`;
  }

  private writeField(field: DescField, target: string, local: string): string {
    switch (field.fieldKind) {
      case "list": {
        const push = (t: string) => `t.push(${t});`;
        const item =
          field.listKind === "scalar" ? this.writeScalar(field.scalar, "y", false, push)
          : field.listKind === "enum" ? this.writeEnum(field, "y", false, push)
          : this.writeMessage(field.message, "y", push);
        // Unset: an empty list in an init shape; missing from a message, toJson fails.
        return `if (x == null) { if (msg) return BAIL; }
          else {
            if (!Array.isArray(x)) return BAIL;
            if (x.length > 0) {
              const t = [];
              for (let i = 0; i < x.length; i++) {
                const y = x[i];
                ${item}
              }
              ${target} = t;
            }
          }`;
      }
      case "message":
        // Explicit presence: written when set (an own property of a message); null in a message fails in toJson.
        return `if (x === undefined || (msg && !hasOwn.call(value, ${local}))) {}
          else if (x === null) { if (msg) return BAIL; }
          else { ${this.writeMessage(field.message, "x", (t) => `${target} = ${t};`)} }`;
      case "scalar":
      case "enum": {
        const implicit = field.presence === IMPLICIT;
        const write = (t: string) => `${target} = ${t};`;
        const value =
          field.fieldKind === "scalar" ? this.writeScalar(field.scalar, "x", implicit, write) : this.writeEnum(field, "x", implicit, write);
        if (implicit) return `if (x == null) { if (msg) return BAIL; } else { ${value} }`;
        return `if (x === undefined || (msg && !hasOwn.call(value, ${local}))) {}
          else if (x === null) { if (msg) return BAIL; }
          else { ${value} }`;
      }
      default:
        throw new Error(`not specialised: ${field.toString()}`);
    }
  }

  /** Checks `v` as toJson does and writes its JSON value; `skipZero`: implicit presence, the zero value is not written. */
  private writeScalar(scalar: ScalarType, v: string, skipZero: boolean, write: (value: string) => string): string {
    const unless = (zero: string, code: string) => (skipZero ? `if (${zero}) ${code}` : code);
    switch (scalar) {
      case ScalarType.STRING:
        return `if (typeof ${v} !== "string") return BAIL; ${unless(`${v} !== ""`, write(v))}`;
      case ScalarType.BOOL:
        return `if (typeof ${v} !== "boolean") return BAIL; ${unless(v, write(v))}`;
      case ScalarType.INT32:
      case ScalarType.SINT32:
      case ScalarType.SFIXED32:
      case ScalarType.UINT32:
      case ScalarType.FIXED32:
        return `if (typeof ${v} !== "number" || !Number.isFinite(${v})) return BAIL; ${unless(`${v} !== 0`, write(v))}`;
      case ScalarType.DOUBLE:
      case ScalarType.FLOAT:
        return `if (typeof ${v} !== "number") return BAIL;
          ${unless(
            `!Object.is(${v}, 0)`,
            write(`(Number.isFinite(${v}) ? ${v} : ${v} !== ${v} ? "NaN" : ${v} > 0 ? "Infinity" : "-Infinity")`),
          )}`;
      case ScalarType.INT64:
      case ScalarType.SINT64:
      case ScalarType.SFIXED64:
      case ScalarType.UINT64:
      case ScalarType.FIXED64:
        return `if (typeof ${v} !== "bigint") return BAIL; ${unless(`${v} !== 0n`, write(`String(${v})`))}`;
      case ScalarType.BYTES:
        return `if (!(${v} instanceof Uint8Array)) return BAIL; ${unless(`${v}.byteLength > 0`, write(`base64Encode(${v})`))}`;
    }
  }

  private writeEnum(field: DescField & { enum: NonNullable<DescField["enum"]> }, v: string, skipZero: boolean, write: (value: string) => string): string {
    const names = new Map<number, string>();
    for (const value of field.enum.values) names.set(value.number, value.jsonName);
    const zero = field.enum.values[0]!.number;
    // An unknown number is written as the number, as toJson does.
    const value = `(${this.constant(names)}.get(${v}) ?? ${v})`;
    return `if (typeof ${v} !== "number") return BAIL; ${skipZero ? `if (${v} !== ${zero}) ${write(value)}` : write(value)}`;
  }

  private writeMessage(desc: DescMessage, v: string, write: (value: string) => string): string {
    const n = this.message(desc);
    return `if (typeof ${v} !== "object" || ${v} === null || Array.isArray(${v})) return BAIL;
      const child = e${n}(${v}, msg);
      if (child === BAIL) return BAIL;
      ${write("child")}`;
  }
}
