/**
 * CPU time a process has used (all its threads, user + system), from
 * /proc/<pid>/stat: sampled around a measured run, it gives the server's own
 * cost per request, which the load generator sharing the machine skews less
 * than requests per second. Undefined where /proc is not there.
 */
import { readFileSync } from "node:fs";

const ticksPerSecond = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

/** Seconds of CPU used by `pid` so far (all its threads, live and ended), or undefined off Linux. */
export function cpuSecondsOf(pid: number): number | undefined {
  return cpuSecondsIn(`/proc/${pid}/stat`);
}

/**
 * Seconds of CPU used so far by `pid`'s main thread alone, or undefined off Linux. In Bun that is
 * the JavaScript thread (the event loop and the code it runs); the rest of `cpuSecondsOf` is the
 * runtime's helper threads: the JIT compiler's, the GC's, the allocator's.
 */
export function mainThreadCpuSecondsOf(pid: number): number | undefined {
  return cpuSecondsIn(`/proc/${pid}/task/${pid}/stat`);
}

function cpuSecondsIn(statPath: string): number | undefined {
  try {
    const stat = readFileSync(statPath, "utf8");
    // Fields after the command name (which may hold spaces) start at the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond; // utime, stime (fields 14, 15)
  } catch {
    return undefined;
  }
}

/**
 * Seconds `pid`'s main thread has spent runnable but waiting for a CPU (the kernel's run-queue
 * delay, /proc/<pid>/task/<pid>/schedstat), or undefined where that is not there. Over a measured
 * period, per second: how much of a service's latency was waiting its turn on a busy machine rather
 * than its own work.
 */
export function mainThreadRunQueueSecondsOf(pid: number): number | undefined {
  try {
    const [, waitingNs] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").trim().split(" ");
    const seconds = Number(waitingNs) / 1e9;
    return Number.isFinite(seconds) ? seconds : undefined;
  } catch {
    return undefined;
  }
}
