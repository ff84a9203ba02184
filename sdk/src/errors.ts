/**
 * Typed errors that cross the wire.
 *
 * Every error a caller can tell apart is a proto message marked with the
 * `(meridian.common.v1.error)` option. Its class (a `Data.TaggedError`) is made
 * by {@link typedError}; the server sends it as two Connect error details, an
 * `ErrorInfo` for any client and the message itself, and the SDK rebuilds the
 * same class on the calling side with {@link fromConnectError}.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import {
  create,
  getOption,
  hasOption,
  toJson,
  type DescMessage,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { Data } from "effect";
import type { YieldableError } from "effect/Cause";
import { ErrorInfoSchema } from "./gen/meridian/common/v1/error_info_pb.js";
import { error as errorOption } from "./gen/meridian/common/v1/options_pb.js";

/** The fields of an error message, without protobuf's bookkeeping. */
export type ErrorFields<Desc extends DescMessage> = Omit<MessageShape<Desc>, "$typeName" | "$unknown">;

/** An instance of a typed error: its tag, its fields and its Connect code. */
export type TypedError<Tag extends string = string, Desc extends DescMessage = DescMessage> = YieldableError & {
  readonly _tag: Tag;
  readonly code: Code;
  readonly fields: ErrorFields<Desc>;
} & Readonly<ErrorFields<Desc>>;

/** The class of a typed error, with what the wire mapping needs to know about it. */
export interface TypedErrorClass<Tag extends string = string, Desc extends DescMessage = DescMessage> {
  new (init?: MessageInitShape<Desc>, message?: string): TypedError<Tag, Desc>;
  readonly tag: Tag;
  readonly schema: Desc;
  readonly code: Code;
}

/**
 * Makes the tagged error class of a proto error message; its Connect code comes
 * from the message's `(meridian.common.v1.error)` option, so proto is the one source.
 */
export function typedError<const Tag extends string, Desc extends DescMessage>(
  tag: Tag,
  schema: Desc,
): TypedErrorClass<Tag, Desc> {
  const code = codeOf(schema);
  const Base = Data.TaggedError(tag) as unknown as new (args: object) => YieldableError;
  class Typed extends Base {
    static readonly tag = tag;
    static readonly schema = schema;
    static readonly code = code;
    readonly code = code;
    readonly fields: ErrorFields<Desc>;
    constructor(init?: MessageInitShape<Desc>, message?: string) {
      const fields = fieldsOf(create(schema, init));
      super(fields);
      this.fields = fields;
      this.message = message ?? describe(tag, schema, fields);
    }
  }
  Object.defineProperty(Typed, "name", { value: tag });
  return Typed as unknown as TypedErrorClass<Tag, Desc>;
}

/** A failure with no typed detail (a proxy's 503, a code no class claims): the code and message as received. */
export class RpcFailure extends Data.TaggedError("RpcFailure")<{
  readonly code: Code;
  readonly message: string;
}> {}

/** Reads the Connect code from an error message's option; a message without one is a bug in proto/. */
export function codeOf(schema: DescMessage): Code {
  if (!hasOption(schema, errorOption)) {
    throw new TypeError(`${schema.typeName} has no (meridian.common.v1.error) option`);
  }
  const name = getOption(schema, errorOption).code;
  const code = codeByName.get(name);
  if (code === undefined) {
    throw new TypeError(`${schema.typeName}: unknown Connect code "${name}"`);
  }
  return code;
}

/**
 * Turns a typed error into the ConnectError the server sends: its code, its
 * message, and the details `ErrorInfo` (reason = tag, domain = service) and the error message itself.
 */
export function toConnectError(error: TypedError, schema: DescMessage, domain: string): ConnectError {
  const value = create(schema, error.fields as MessageInitShape<DescMessage>);
  const info = create(ErrorInfoSchema, {
    reason: error._tag,
    domain,
    metadata: metadataOf(schema, value),
  });
  return new ConnectError(error.message, error.code, undefined, [
    { desc: ErrorInfoSchema, value: info },
    { desc: schema, value },
  ]);
}

/**
 * Rebuilds the typed error a server sent: the first class in `classes` whose
 * message is among the details wins; otherwise {@link RpcFailure} with the code and message.
 */
export function fromConnectError<const C extends ReadonlyArray<TypedErrorClass>>(
  cause: unknown,
  classes: C,
): InstanceType<C[number]> | RpcFailure {
  const error = ConnectError.from(cause);
  for (const Class of classes) {
    const [detail] = error.findDetails(Class.schema);
    if (detail !== undefined) {
      return new Class(detail as MessageInitShape<DescMessage>, error.rawMessage) as InstanceType<C[number]>;
    }
  }
  for (const Class of classes) {
    if (Class.code === error.code && fallbackTags.has(Class.tag)) {
      return new Class(undefined, error.rawMessage) as InstanceType<C[number]>;
    }
  }
  return new RpcFailure({ code: error.code, message: error.rawMessage });
}

/** Tags a bare code (no detail) is rebuilt as, one per code. */
const fallbackTags = new Set([
  "InvalidArgument",
  "NotFound",
  "Unauthenticated",
  "PermissionDenied",
  "DeadlineExceeded",
  "Unavailable",
  "ResourceExhausted",
  "Internal",
]);

const codeByName = new Map<string, Code>(
  Object.entries(Code)
    .filter((entry): entry is [string, Code] => typeof entry[1] === "number")
    .map(([name, code]) => [name.replace(/[A-Z]/g, (c, i: number) => (i > 0 ? "_" : "") + c.toLowerCase()), code]),
);

function fieldsOf<Desc extends DescMessage>(message: MessageShape<Desc>): ErrorFields<Desc> {
  const { $typeName: _typeName, $unknown: _unknown, ...fields } = message as MessageShape<Desc> & {
    $unknown?: unknown;
  };
  return fields as ErrorFields<Desc>;
}

function metadataOf(schema: DescMessage, value: MessageShape<DescMessage>): Record<string, string> {
  const json = toJson(schema, value, { alwaysEmitImplicit: true }) as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(json).map(([key, v]) => [key, typeof v === "string" ? v : JSON.stringify(v)]),
  );
}

function describe(tag: string, schema: DescMessage, fields: object): string {
  const violations = (fields as { fieldViolations?: Array<{ field: string; description: string }> }).fieldViolations;
  if (Array.isArray(violations) && violations.length > 0) {
    return `${tag}: ${violations.map((v) => `${v.field} ${v.description}`).join("; ")}`;
  }
  const json = toJson(schema, create(schema, fields as MessageInitShape<DescMessage>)) as Record<string, unknown>;
  const parts = Object.entries(json).map(([key, v]) => `${key}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  return parts.length === 0 ? tag : `${tag}: ${parts.join(", ")}`;
}
