/**
 * Request bodies for the log: a message as JSON with every field marked
 * `[debug_redact = true]` in its proto (at any depth) replaced by "[redacted]".
 */
import { toJson, type DescField, type DescMessage, type JsonValue, type Message } from "@bufbuild/protobuf";

const redacted = "[redacted]";

/** The message as proto JSON, sensitive fields replaced; safe to log. */
export function redactedJson(schema: DescMessage, message: Message): JsonValue {
  return redact(schema, toJson(schema, message, { alwaysEmitImplicit: false }));
}

function redact(schema: DescMessage, json: JsonValue): JsonValue {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return json;
  const out: Record<string, JsonValue> = { ...json };
  for (const field of schema.fields) {
    const key = field.jsonName;
    if (!(key in out)) continue;
    if (isSensitive(field)) {
      out[key] = redacted;
    } else if (field.message !== undefined) {
      const value = out[key]!;
      out[key] = Array.isArray(value)
        ? value.map((item) => redact(field.message!, item))
        : field.fieldKind === "map"
          ? Object.fromEntries(Object.entries(value as Record<string, JsonValue>).map(([k, v]) => [k, redact(field.message!, v)]))
          : redact(field.message, value);
    }
  }
  return out;
}

function isSensitive(field: DescField): boolean {
  return field.proto.options?.debugRedact === true;
}
