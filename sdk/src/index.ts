/**
 * @meridian/sdk — browser-safe main entry: typed messages, service
 * descriptors, typed errors and clients over Connect (fetch).
 */
export * from "./errors.js";
export * from "./service.js";
export * from "./kit-errors.js";
export * from "./fetch-transport.js";
export * from "./client.js";
export * from "./effect-client.js";
export * as common from "./common/index.js";
export * as universe from "./universe/index.js";
