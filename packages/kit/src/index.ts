/**
 * @meridian/kit — what every Meridian service is made of.
 */
export * from "./config.js";
export * from "./errors.js";
export * from "./health.js";
export * from "./lifecycle.js";
export * from "./log.js";
export { RequestContext, type Protocol, type RequestInfo } from "./server/call.js";
export { implement, type EffectHandler, type EffectHandlers, type HandlerError, type ServiceBinding } from "./server/implement.js";
export { ListenFailed, type Listener } from "./server/http-listener.js";
export { serve, Server, type ServeOptions, type ServerAddresses } from "./server/serve.js";
export type { HttpRoute } from "./server/fetch-handler.js";
export { corsConfig, corsOriginsConfig, withCors, type CorsOptions } from "./server/cors.js";
export { GrpcHealthService } from "./server/grpc-health.js";
export * from "./paging.js";
export { inProcess, inProcessTransport } from "./server/in-process.js";
export * from "./telemetry/metrics.js";
export { layerProcessMetrics } from "./telemetry/process.js";
export { layerTracing, layerTracingTo, startSpan, tracingEnabled, traceHeadersOf } from "./telemetry/tracing.js";
export { layerBacking, type BackingOptions } from "./backing.js";
export { defineService, layerServiceResources, layerServicesInProcess, readServiceSettings, runService, type ServiceDefinition, type ServiceSettings } from "./service-definition.js";
