// The planning service's domain errors, declared in proto/meridian/planning/v1/errors.proto.
export { PlanRejected, UnknownAccount, UnknownPlan } from "@meridian/sdk/planning";
