import { expect, test } from "bun:test";
import { create, createFileRegistry, type DescMessage } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { redactedJson } from "./redact.js";

// A login request whose password (and a nested token) are marked [debug_redact = true].
const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "redact_test.proto",
    package: "test.v1",
    syntax: "proto3",
    messageType: [
      {
        name: "Credentials",
        field: [{ name: "token", number: 1, type: 9, label: 1, jsonName: "token", options: { debugRedact: true } }],
      },
      {
        name: "Login",
        field: [
          { name: "user", number: 1, type: 9, label: 1, jsonName: "user" },
          { name: "password", number: 2, type: 9, label: 1, jsonName: "password", options: { debugRedact: true } },
          { name: "extra", number: 3, type: 11, typeName: ".test.v1.Credentials", label: 3, jsonName: "extra" },
        ],
      },
    ],
  }),
  () => undefined,
);
const Login = registry.getMessage("test.v1.Login") as DescMessage;

test("fields marked debug_redact are replaced at any depth; the rest is kept", () => {
  const message = create(Login, { user: "ada", password: "hunter2", extra: [{ token: "t-1" }, { token: "t-2" }] } as never);
  const json = redactedJson(Login, message);
  expect(json).toEqual({ user: "ada", password: "[redacted]", extra: [{ token: "[redacted]" }, { token: "[redacted]" }] });
  expect(JSON.stringify(json)).not.toContain("hunter2");
});
