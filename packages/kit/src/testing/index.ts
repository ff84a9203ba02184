/**
 * @meridian/kit/testing — helpers for tests of services as real processes.
 */
export {
  runServiceToExit,
  ServiceStartFailed,
  startService,
  type FinishedProcess,
  type LogLine,
  type RunningService,
  type StartServiceOptions,
} from "./service-process.js";
export { adminUrl, databases, embeddedDatabase, postgresDatabase, type TestDatabase } from "./databases.js";
export { startRedisServer, type RedisServerProcess } from "../redis/testing.js";
export { freePort } from "./ports.js";
export { dropRedisKeys } from "./redis-keys.js";
export { cachedPlans, type CachedPlan } from "./plans.js";
export { receivedEvent, startTcpProxy, type TcpProxy } from "../events/testing.js";
export { chromiumPath, ensureChromium } from "./chromium.js";
export { rpcFailure } from "./rpc-failure.js";
