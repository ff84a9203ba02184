/**
 * Debian's Chromium for browser tests (the SDK's and the gateway status page's):
 * installed with apt when missing and the tests run as root.
 */
import { existsSync } from "node:fs";

/** Where Debian puts it. */
export const chromiumPath = "/usr/bin/chromium";

/** True when Chromium is there, after trying to install it (apt-get) if it is not. */
export function ensureChromium(): boolean {
  if (existsSync(chromiumPath)) return true;
  console.warn(`${chromiumPath} is missing: installing Debian's chromium (apt-get)`);
  const install = Bun.spawnSync(["sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium"], {
    stdout: "ignore",
    stderr: "pipe",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  if (install.exitCode !== 0) console.warn(`could not install chromium: ${install.stderr.toString().slice(-500)}`);
  return existsSync(chromiumPath);
}
