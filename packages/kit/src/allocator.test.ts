/**
 * The allocator settings are ones this runtime's mimalloc knows and takes: an option it does not
 * know (renamed in an upgrade, say) would be ignored without a word, and the setting lost.
 */
import { expect, test } from "bun:test";
import { allocatorEnvironment } from "./allocator.js";

/** The options mimalloc reports at start (`MIMALLOC_VERBOSE=1`), by name. */
function reportedOptions(env: Record<string, string | undefined>): Map<string, string> {
  const result = Bun.spawnSync([process.execPath, "-e", "0"], { env: { ...env, MIMALLOC_VERBOSE: "1" }, stderr: "pipe" });
  expect(result.exitCode).toBe(0);
  const options = new Map<string, string>();
  for (const [, name, value] of result.stderr.toString().matchAll(/^option '(\w+)': (\S+)/gm)) options.set(name!, value!);
  return options;
}

test("a process started with allocatorEnvironment runs mimalloc with each of its settings", () => {
  const defaults = reportedOptions({ PATH: process.env.PATH });
  const tuned = reportedOptions({ PATH: process.env.PATH, ...allocatorEnvironment });
  for (const [variable, value] of Object.entries(allocatorEnvironment)) {
    const option = variable.replace(/^MIMALLOC_/, "").toLowerCase();
    expect([option, defaults.has(option)]).toEqual([option, true]);
    expect([option, tuned.get(option)]).toEqual([option, value]);
    // The setting changes something: the default is another value.
    expect([option, defaults.get(option)]).not.toEqual([option, value]);
  }
});
