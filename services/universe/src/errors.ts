// The universe service's domain errors, declared in proto/meridian/universe/v1/errors.proto.
export { UnknownSymbol } from "@meridian/sdk/universe";
