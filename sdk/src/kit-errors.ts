/**
 * The kit's errors (from meridian/common/v1/errors.proto): any service may fail
 * with them and the client's policies raise them, so every client's error channel includes them.
 */
import * as kit from "./gen/meridian/common/v1/errors_meridian.js";
import type { RpcFailure } from "./errors.js";

export {
  BulkheadFull,
  CircuitOpen,
  DeadlineExceeded,
  Internal,
  InvalidArgument,
  NotFound,
  PermissionDenied,
  RateLimited,
  ResourceExhausted,
  RetriesExhausted,
  Unauthenticated,
  Unavailable,
} from "./gen/meridian/common/v1/errors_meridian.js";

/** Every kit error class, in the order the wire mapping tries them. */
export const KitErrors = [
  kit.InvalidArgument,
  kit.NotFound,
  kit.Unauthenticated,
  kit.PermissionDenied,
  kit.DeadlineExceeded,
  kit.Unavailable,
  kit.ResourceExhausted,
  kit.CircuitOpen,
  kit.BulkheadFull,
  kit.RateLimited,
  kit.RetriesExhausted,
  kit.Internal,
] as const;

/** Any kit error, or a failure no class claims. */
export type KitError = InstanceType<(typeof KitErrors)[number]> | RpcFailure;
