/**
 * gRPC server reflection (`grpc.reflection.v1` and the older `v1alpha`, which
 * many clients still ask for first), so `grpcurl` and `buf curl` list and call
 * the served services without local proto files. Answers come from the
 * descriptors compiled into the generated code: each served service's file and
 * its transitive dependencies, serialized as `google.protobuf.FileDescriptorProto`,
 * and the files of the errors they may send (ErrorInfo, kit and domain errors),
 * so clients can decode error details too.
 * The method is bidirectional streaming, which needs HTTP/2: it works on GRPC_PORT.
 */
import { Code, type ServiceImpl } from "@connectrpc/connect";
import { toBinary, type DescFile, type DescMessage } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { MeridianService } from "@meridian/sdk";
import { ErrorInfoSchema } from "@meridian/sdk/common";
import { KitErrors } from "@meridian/sdk/kit-errors";
// The SDK exports no path for the vendored gRPC protos yet; see the report of issue 5.
import { ServerReflection as ReflectionV1 } from "../../../../sdk/src/gen/grpc/reflection/v1/reflection_meridian.js";
import { ServerReflection as ReflectionV1alpha } from "../../../../sdk/src/gen/grpc/reflection/v1alpha/reflection_meridian.js";
import type { CallLimits, ServiceBinding } from "./implement.js";

/** The reflection services themselves, v1 first. */
export const reflectionServices: ReadonlyArray<MeridianService> = [ReflectionV1, ReflectionV1alpha];

/**
 * Binds both reflection services over `services` (and themselves): lists them,
 * and answers file_by_filename, file_containing_symbol and file_containing_extension
 * with the file and those of its transitive dependencies not yet sent on the stream.
 */
export function serverReflection(services: ReadonlyArray<MeridianService>): ReadonlyArray<ServiceBinding> {
  const index = indexDescriptors([...services, ...reflectionServices]);
  const bind = (service: MeridianService): ServiceBinding => ({
    service,
    toConnect: (limits) =>
      ({ serverReflectionInfo: (requests: AsyncIterable<ReflectionRequest>) => session(index, requests, limits) }) as unknown as ServiceImpl<
        MeridianService["desc"]
      >,
    toUnaryInvokers: () => new Map(),
  });
  return reflectionServices.map(bind);
}

/** The fields a request has in both versions. */
interface ReflectionRequest {
  readonly host: string;
  readonly messageRequest:
    | { readonly case: "fileByFilename" | "fileContainingSymbol" | "allExtensionNumbersOfType" | "listServices"; readonly value: string }
    | { readonly case: "fileContainingExtension"; readonly value: { readonly containingType: string; readonly extensionNumber: number } }
    | { readonly case: undefined; readonly value?: undefined };
}

/** The answer of one request, in the shape both versions accept. */
type Answer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: Array<{ name: string }> } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

/** One stream: an answer per request, in order, until the client ends it or the server shuts down. */
async function* session<R extends ReflectionRequest>(index: DescriptorIndex, requests: AsyncIterable<R>, limits: CallLimits) {
  const sent = new Set<string>();
  for await (const request of untilAborted(requests, limits.shutdown)) {
    yield { validHost: request.host, originalRequest: request, messageResponse: answer(index, request, sent) };
  }
}

function answer(index: DescriptorIndex, request: ReflectionRequest, sent: Set<string>): Answer {
  const asked = request.messageRequest;
  switch (asked.case) {
    case "listServices":
      return { case: "listServicesResponse", value: { service: index.services.map((name) => ({ name })) } };
    case "fileByFilename":
      return filesOf(index, index.fileByName.get(asked.value), sent) ?? notFound(`file ${asked.value}`);
    case "fileContainingSymbol":
      return filesOf(index, fileOfSymbol(index, asked.value), sent) ?? notFound(`symbol ${asked.value}`);
    case "fileContainingExtension": {
      const file = index.extensions.get(asked.value.containingType)?.get(asked.value.extensionNumber);
      return filesOf(index, file, sent) ?? notFound(`extension ${asked.value.extensionNumber} of ${asked.value.containingType}`);
    }
    case "allExtensionNumbersOfType": {
      if (!index.messages.has(asked.value)) return notFound(`type ${asked.value}`);
      const numbers = [...(index.extensions.get(asked.value)?.keys() ?? [])];
      return { case: "allExtensionNumbersResponse", value: { baseTypeName: asked.value, extensionNumber: numbers } };
    }
    default:
      return { case: "errorResponse", value: { errorCode: Code.InvalidArgument, errorMessage: "no message_request set" } };
  }
}

function notFound(what: string): Answer {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: `${what} not found` } };
}

/** The file first, then its transitive dependencies the client has not been sent on this stream. */
function filesOf(index: DescriptorIndex, file: DescFile | undefined, sent: Set<string>): Answer | undefined {
  if (file === undefined) return undefined;
  const files = [file, ...transitiveDependencies(file).filter((d) => !sent.has(d.proto.name))];
  for (const f of files) sent.add(f.proto.name);
  return { case: "fileDescriptorResponse", value: { fileDescriptorProto: files.map((f) => index.encoded(f)) } };
}

/** A type, service or extension by its full name; a member (method, field, enum value) by its parent's. */
function fileOfSymbol(index: DescriptorIndex, symbol: string): DescFile | undefined {
  const name = symbol.startsWith(".") ? symbol.slice(1) : symbol;
  const found = index.fileBySymbol.get(name);
  if (found !== undefined) return found;
  const dot = name.lastIndexOf(".");
  return dot > 0 ? index.fileBySymbol.get(name.slice(0, dot)) : undefined;
}

function transitiveDependencies(file: DescFile): DescFile[] {
  const seen = new Map<string, DescFile>();
  const visit = (f: DescFile) => {
    for (const d of f.dependencies) {
      if (seen.has(d.proto.name)) continue;
      seen.set(d.proto.name, d);
      visit(d);
    }
  };
  visit(file);
  seen.delete(file.proto.name);
  return [...seen.values()];
}

/** What reflection answers from, built once per server. */
interface DescriptorIndex {
  readonly services: ReadonlyArray<string>;
  readonly fileByName: ReadonlyMap<string, DescFile>;
  readonly fileBySymbol: ReadonlyMap<string, DescFile>;
  readonly messages: ReadonlySet<string>;
  /** Extension numbers by the full name of the message they extend. */
  readonly extensions: ReadonlyMap<string, ReadonlyMap<number, DescFile>>;
  /** The serialized FileDescriptorProto of a file, encoded once. */
  readonly encoded: (file: DescFile) => Uint8Array;
}

function indexDescriptors(services: ReadonlyArray<MeridianService>): DescriptorIndex {
  const fileByName = new Map<string, DescFile>();
  const fileBySymbol = new Map<string, DescFile>();
  const messages = new Set<string>();
  const extensions = new Map<string, Map<number, DescFile>>();
  const addMessage = (message: DescMessage, file: DescFile) => {
    fileBySymbol.set(message.typeName, file);
    messages.add(message.typeName);
    for (const nested of message.nestedMessages) addMessage(nested, file);
    for (const nested of message.nestedEnums) fileBySymbol.set(nested.typeName, file);
    for (const ext of message.nestedExtensions) addExtension(ext.typeName, ext.extendee.typeName, ext.number, file);
  };
  const addExtension = (name: string, extendee: string, number: number, file: DescFile) => {
    fileBySymbol.set(name, file);
    const numbers = extensions.get(extendee) ?? new Map<number, DescFile>();
    numbers.set(number, file);
    extensions.set(extendee, numbers);
  };
  const addFile = (file: DescFile) => {
    if (fileByName.has(file.proto.name)) return;
    fileByName.set(file.proto.name, file);
    for (const message of file.messages) addMessage(message, file);
    for (const e of file.enums) fileBySymbol.set(e.typeName, file);
    for (const ext of file.extensions) addExtension(ext.typeName, ext.extendee.typeName, ext.number, file);
    for (const service of file.services) {
      fileBySymbol.set(service.typeName, file);
      for (const method of service.methods) fileBySymbol.set(`${service.typeName}.${method.name}`, file);
    }
    for (const dependency of file.dependencies) addFile(dependency);
  };
  for (const service of services) {
    addFile(service.desc.file);
    for (const error of service.errors) addFile(error.schema.file);
  }
  addFile(ErrorInfoSchema.file);
  for (const error of KitErrors) addFile(error.schema.file);
  const encodedByName = new Map<string, Uint8Array>();
  return {
    services: [...new Set(services.map((s) => s.desc.typeName))],
    fileByName,
    fileBySymbol,
    messages,
    extensions,
    encoded: (file) => {
      let bytes = encodedByName.get(file.proto.name);
      if (bytes === undefined) {
        bytes = toBinary(FileDescriptorProtoSchema, file.proto);
        encodedByName.set(file.proto.name, bytes);
      }
      return bytes;
    },
  };
}

/** The items of `source` until `signal` aborts; then the iteration ends cleanly and the source is closed. */
async function* untilAborted<T>(source: AsyncIterable<T>, signal: AbortSignal | undefined): AsyncGenerator<T> {
  if (signal === undefined) return yield* source;
  const iterator = source[Symbol.asyncIterator]();
  let onAbort = () => {};
  const aborted = new Promise<"aborted">((resolve) => {
    onAbort = () => resolve("aborted");
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), aborted]);
      if (next === "aborted" || next.done === true) return;
      yield next.value;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    void iterator.return?.();
  }
}
