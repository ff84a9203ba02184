// The market service's domain errors, declared in proto/meridian/market/v1/errors.proto.
export { InsufficientHistory, UnknownSymbols } from "@meridian/sdk/market";
