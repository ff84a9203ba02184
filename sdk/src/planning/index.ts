// meridian.planning.v1: messages, the service descriptor, its typed errors.
export * from "../gen/meridian/planning/v1/planning_pb.js";
export * from "../gen/meridian/planning/v1/planning_meridian.js";
export { UnknownPlanSchema, UnknownAccountSchema, PlanRejectedSchema } from "../gen/meridian/planning/v1/errors_pb.js";
export * from "../gen/meridian/planning/v1/errors_meridian.js";
