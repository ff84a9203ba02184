// The common contracts: kit errors, error details, paging.
export * from "../gen/meridian/common/v1/errors_pb.js";
export * from "../gen/meridian/common/v1/error_info_pb.js";
export * from "../gen/meridian/common/v1/paging_pb.js";
