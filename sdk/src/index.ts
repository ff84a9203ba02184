/**
 * @meridian/sdk — browser-safe main entry: typed messages, service
 * descriptors, typed errors, clients over Connect (fetch) and their resilience policies.
 */
export * from "./errors.js";
export * from "./service.js";
export * from "./kit-errors.js";
export * from "./fetch-transport.js";
export * from "./client.js";
export * from "./money.js";
export * from "./effect-client.js";
export * from "./policies/index.js";
export * as common from "./common/index.js";
export * as universe from "./universe/index.js";
