/**
 * CPU time a process has used (all its threads, user + system), from
 * /proc/<pid>/stat: sampled around a measured run, it gives the server's own
 * cost per request, which the load generator sharing the machine skews less
 * than requests per second. Undefined where /proc is not there.
 */
import { readFileSync } from "node:fs";

const ticksPerSecond = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

/** Seconds of CPU used by `pid` so far, or undefined off Linux. */
export function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start at the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond; // utime, stime (fields 14, 15)
  } catch {
    return undefined;
  }
}
