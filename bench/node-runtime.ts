/**
 * A Node >= 22 for connect-node 2.2 (which wants it): the `node` on PATH when it
 * is new enough, otherwise the npm registry's `node` package (which ships the
 * official binary) installed once into bench/.node/. Nothing is downloaded from
 * anywhere but the npm registry, through npm.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

/** The npm package version installed when the machine's Node is older than 22. */
export const nodePackageVersion = "22.23.3";

const minimumMajor = 22;

/** The path of a Node >= 22 and its version, installing it into bench/.node/ on first use. */
export async function nodeRuntime(): Promise<{ readonly path: string; readonly version: string }> {
  const onPath = Bun.which("node");
  if (onPath !== null) {
    const version = await versionOf(onPath);
    if (majorOf(version) >= minimumMajor) return { path: onPath, version };
  }
  const prefix = join(import.meta.dir, ".node");
  const installed = join(prefix, "node_modules", ".bin", "node");
  if (!existsSync(installed)) {
    console.error(`installing node@${nodePackageVersion} from the npm registry into bench/.node/ (once)`);
    const npm = Bun.spawnSync(
      ["npm", "install", "--prefix", prefix, "--no-save", "--no-audit", "--no-fund", "--loglevel=error", `node@${nodePackageVersion}`],
      { stdout: "inherit", stderr: "inherit" },
    );
    if (npm.exitCode !== 0) throw new Error(`npm install node@${nodePackageVersion} failed (exit ${npm.exitCode})`);
  }
  const version = await versionOf(installed);
  if (majorOf(version) < minimumMajor) throw new Error(`${installed} is ${version}, not Node >= ${minimumMajor}`);
  return { path: installed, version };
}

/** What `process.version` says inside that binary (not what a file name claims); "bun" when it is Bun posing as node. */
async function versionOf(path: string): Promise<string> {
  const probe = "process.versions.bun === undefined ? process.version : 'bun'";
  const child = Bun.spawn([path, "-p", probe], { stdout: "pipe", stderr: "ignore" });
  const text = await new Response(child.stdout).text();
  await child.exited;
  return text.trim();
}

function majorOf(version: string): number {
  return Number(/^v(\d+)\./.exec(version)?.[1] ?? 0);
}
