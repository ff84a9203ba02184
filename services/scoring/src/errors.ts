// The scoring service's domain errors, declared in proto/meridian/scoring/v1/errors.proto.
export { InsufficientHistory, UnknownSymbols } from "@meridian/sdk/scoring";
