// meridian.portfolio.v1: messages, the service descriptor, its typed errors.
export * from "../gen/meridian/portfolio/v1/events_pb.js";
export * from "../gen/meridian/portfolio/v1/portfolio_pb.js";
export * from "../gen/meridian/portfolio/v1/portfolio_meridian.js";
export { UnknownAccountSchema } from "../gen/meridian/portfolio/v1/errors_pb.js";
export * from "../gen/meridian/portfolio/v1/errors_meridian.js";
