/**
 * @meridian/sdk/node — everything of the main entry, plus the transports over
 * Node's http and http2 modules (Connect, gRPC-Web, gRPC).
 */
export * from "./index.js";
export * from "./node-transport.js";
