// Loaded by `bun test` before any test file: in-process servers log only warnings and worse.
import { configureLogging } from "../packages/kit/src/log.js";

configureLogging({ level: (process.env.TEST_LOG_LEVEL as "warn" | undefined) ?? "warn" });
