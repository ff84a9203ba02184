// The portfolio service's domain errors, declared in proto/meridian/portfolio/v1/errors.proto.
export { UnknownAccount } from "@meridian/sdk/portfolio";
