/**
 * @meridian/kit/client — calling other services: the locator (remote or
 * in-process by configuration), the downstream config schema, propagation and telemetry.
 */
export { downstreamConfig, envPrefix, type DownstreamConfig, type DownstreamProtocol } from "./config.js";
export { deferredLocalServices, layerLocalServices, LocalServices, type DeferredLocalServices, type LocalRegistry } from "./local.js";
export { layerClient, makeClient, ServiceClient, type ClientOptions } from "./locator.js";
export { newTraceparent, outgoing, type Outgoing } from "./propagation.js";
export { publishState, telemetryHooks } from "./telemetry.js";
export { clientState } from "./state.js";
export { downstreamUnavailable } from "./downstream-failure.js";
