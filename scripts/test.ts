/**
 * The whole test suite, as CI and the README run it: buf lint, buf breaking
 * against main, codegen in sync with proto/, the typecheck, then `bun test`. Each check counts as one
 * test; the last line printed is "N passed, N failed".
 */
import { $ } from "bun";

interface Outcome {
  readonly name: string;
  readonly ok: boolean;
}

const outcomes: Outcome[] = [];

async function check(name: string, run: () => Promise<boolean>): Promise<void> {
  const started = performance.now();
  const ok = await run().catch((e: unknown) => {
    console.error(e);
    return false;
  });
  console.log(`${ok ? "✓" : "✗"} ${name} (${Math.round(performance.now() - started)} ms)`);
  outcomes.push({ name, ok });
}

await check("buf lint", async () => (await $`buf lint`.nothrow()).exitCode === 0);

await check("no breaking change to proto/ against main (buf breaking)", async () => {
  // A clone without a main branch (e.g. a detached CI checkout) has nothing to compare with.
  if ((await $`git rev-parse --verify --quiet main`.nothrow().quiet()).exitCode !== 0) return true;
  return (await $`buf breaking --against .git#branch=main`.nothrow()).exitCode === 0;
});

await check("generated code is in sync with proto/", async () => {
  if ((await $`buf generate`.nothrow()).exitCode !== 0) return false;
  const changed = (await $`git status --porcelain -- sdk/src/gen`.text()).trim();
  if (changed !== "") console.error(`regenerating changed:\n${changed}\nrun \`bun run gen\` and commit the result`);
  return changed === "";
});

await check("typecheck (tsc --noEmit)", async () => (await $`tsc -p tsconfig.json --noEmit`.nothrow()).exitCode === 0);

const filters = process.argv.slice(2);
const test = Bun.spawn(["bun", "test", "--timeout", "60000", ...filters], {
  stdout: "inherit",
  stderr: "pipe",
  env: { ...process.env, FORCE_COLOR: "0" },
});
// bun test reports on stderr; echo it and keep it to read the totals.
let report = "";
const decoder = new TextDecoder();
const reader = test.stderr.getReader();
for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
  const text = decoder.decode(chunk.value, { stream: true });
  report += text;
  process.stderr.write(text);
}
const exitCode = await test.exited;
const count = (label: string) => Number(report.match(new RegExp(`^\\s*(\\d+) ${label}$`, "m"))?.[1] ?? 0);
let passed = count("pass");
let failed = count("fail");
if (exitCode !== 0 && failed === 0) failed = 1; // bun test failed without a failing test (e.g. a load error)
if (passed + failed === 0) failed = 1; // running no test is a failure

passed += outcomes.filter((o) => o.ok).length;
failed += outcomes.filter((o) => !o.ok).length;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
