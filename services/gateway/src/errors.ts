// The gateway's domain errors, declared in proto/meridian/gateway/v1/errors.proto.
export { UnknownAccount } from "@meridian/sdk/gateway";
