#!/usr/bin/env bun
/**
 * protoc-gen-meridian: a local buf plugin that makes, for each proto file,
 * the typed error classes of its error messages (those with the
 * `(meridian.common.v1.error)` option) and, per service, the list of errors its
 * methods may fail with (every error message of the service's package).
 */
import { createEcmaScriptPlugin, runNodeJs, type Schema } from "@bufbuild/protoplugin";
import { hasOption, type DescFile, type DescMessage } from "@bufbuild/protobuf";
import { error as errorOption } from "../../../sdk/src/gen/meridian/common/v1/options_pb.js";

// Import paths starting with "./" or "../" are relative to the output root (sdk/src/gen).
const runtimeModule = "errors.js"; // sdk/src/errors.ts
const serviceModule = "service.js"; // sdk/src/service.ts

function generate(schema: Schema<object>): void {
  const errorsByPackage = new Map<string, Array<{ message: DescMessage; file: DescFile }>>();
  for (const file of schema.allFiles) {
    for (const message of file.messages) {
      if (hasOption(message, errorOption)) {
        const list = errorsByPackage.get(file.proto.package) ?? [];
        list.push({ message, file });
        errorsByPackage.set(file.proto.package, list);
      }
    }
  }
  for (const file of schema.files) {
    const errors = file.messages.filter((m) => hasOption(m, errorOption));
    if (errors.length === 0 && file.services.length === 0) continue;
    const out = schema.generateFile(`${file.name}_meridian.ts`);
    out.preamble(file);
    const typedError = out.import("typedError", `../${runtimeModule}`);
    for (const message of errors) {
      out.print(out.jsDoc(message));
      out.print(
        out.export("class", message.name),
        " extends ",
        typedError,
        "(",
        out.string(message.name),
        ", ",
        out.importSchema(message),
        ") {}",
      );
      out.print();
    }
    const meridianService = out.import("meridianService", `../${serviceModule}`);
    for (const service of file.services) {
      const classes = (errorsByPackage.get(file.proto.package) ?? []).map(({ message, file: from }) =>
        from === file ? message.name : out.import(message.name, `./${from.name}_meridian.js`),
      );
      out.print(`/** The domain errors the methods of ${service.typeName} may fail with. */`);
      out.print(out.export("const", `${service.name}Errors`), " = [", ...join(classes), "] as const;");
      out.print();
      out.print(`/** Any one of ${service.name}Errors. */`);
      out.print(
        out.export("type", `${service.name}Error`),
        ` = InstanceType<(typeof ${service.name}Errors)[number]>;`,
      );
      out.print();
      out.print(`/** ${service.typeName} with its typed errors: what createMeridianClient and the kit's server take. */`);
      out.print(
        out.export("const", shortName(service.name)),
        " = ",
        meridianService,
        "(",
        out.importSchema(service),
        `, ${service.name}Errors);`,
      );
      out.print();
    }
  }
}

/** "UniverseService" -> "Universe". */
function shortName(serviceName: string): string {
  return serviceName.endsWith("Service") && serviceName !== "Service" ? serviceName.slice(0, -"Service".length) : serviceName;
}

function join<T>(items: T[]): Array<T | string> {
  return items.flatMap((item, i) => (i === 0 ? [item] : [", ", item]));
}

runNodeJs(
  createEcmaScriptPlugin({
    name: "protoc-gen-meridian",
    version: "v0.1.0",
    generateTs: generate,
  }),
);
