/**
 * Reporting a dependency's failures without flooding the log: the first failure is written at
 * once, later ones at most once per interval with how many were left out, and the recovery once.
 */
import { writeLogLine } from "../log.js";

/** A throttled reporter of one kind of failure. */
export interface OutageLog {
  /** Records a failure; writes a warn line unless one was written less than `intervalMs` ago. */
  readonly failed: (fields: Record<string, unknown>) => void;
  /** Records a success; writes one info line if failures were reported since the last one. */
  readonly recovered: (fields?: Record<string, unknown>) => void;
}

/** A reporter writing `message` (warn) on failures and `${message}: recovered` (info) after them. */
export function outageLog(message: string, intervalMs = 5000): OutageLog {
  let lastWrittenAt = 0;
  let suppressed = 0;
  let failing = false;
  return {
    failed: (fields) => {
      failing = true;
      const now = Date.now();
      if (now - lastWrittenAt < intervalMs) {
        suppressed += 1;
        return;
      }
      lastWrittenAt = now;
      writeLogLine("warn", message, suppressed > 0 ? { ...fields, suppressed } : fields);
      suppressed = 0;
    },
    recovered: (fields) => {
      if (!failing) return;
      failing = false;
      suppressed = 0;
      lastWrittenAt = 0;
      writeLogLine("info", `${message}: recovered`, fields);
    },
  };
}
