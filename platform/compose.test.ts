import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { allocatorEnvironment } from "@meridian/kit/allocator";
import { composeFile } from "./compose.js";
import { processEnvironment } from "./distributed.js";
import { topology } from "./topology.js";

const composePath = fileURLToPath(new URL("../compose.yaml", import.meta.url));
const dockerfilePath = fileURLToPath(new URL("../Dockerfile", import.meta.url));

test("compose.yaml is what `bun run compose` prints from the topology", () => {
  expect(readFileSync(composePath, "utf8")).toBe(composeFile());
});

test("compose.yaml runs PostgreSQL, Redis and every service, each healthy before those that call it", () => {
  const compose = Bun.YAML.parse(readFileSync(composePath, "utf8")) as {
    services: Record<string, { environment?: Record<string, string>; depends_on?: Record<string, { condition: string }>; healthcheck?: unknown }>;
  };
  expect(Object.keys(compose.services).sort()).toEqual(["postgres", "redis", ...topology.map((n) => n.name)].sort());
  for (const node of topology) {
    const service = compose.services[node.name]!;
    expect(service.healthcheck).toBeDefined();
    expect(Object.keys(service.depends_on ?? {}).sort()).toEqual(["postgres", "redis", ...node.downstreams].sort());
    expect(Object.values(service.depends_on ?? {}).every((d) => d.condition === "service_healthy")).toBe(true);
    for (const downstream of node.downstreams) {
      const prefix = `MERIDIAN_${downstream.toUpperCase()}_`;
      expect(service.environment?.[`${prefix}URL`]).toBe(`http://${downstream}:8081`);
      expect(service.environment?.[`${prefix}PROTOCOL`]).toBe("grpc");
    }
    expect(service.environment?.DATABASE_URL).toStartWith("postgres://");
    expect(service.environment?.REDIS_URL).toBe("redis://redis:6379");
  }
});

test("docker compose accepts the file, where a Compose client is installed", async () => {
  // The Compose plugin (`docker compose`) or the standalone `docker-compose`; CI installs the latter.
  const plugin = Bun.which("docker") !== null && Bun.spawnSync(["docker", "compose", "version"]).exitCode === 0;
  const command = plugin ? ["docker", "compose"] : Bun.which("docker-compose") !== null ? ["docker-compose"] : undefined;
  if (command === undefined) {
    console.log("no Compose client here: `docker compose config` not run (the structure test above checks the file)");
    return;
  }
  const result = Bun.spawnSync([...command, "-f", composePath, "config", "--quiet"], { stderr: "pipe" });
  expect(result.stderr.toString()).toBe("");
  expect(result.exitCode).toBe(0);
});

test("every service process gets the kit's allocator settings: from the image's ENV, and from start:distributed", () => {
  // The service stage's ENV lines, as name → value.
  const serviceStage = readFileSync(dockerfilePath, "utf8").split(/^FROM .* AS service$/m)[1] ?? "";
  const imageEnvironment = Object.fromEntries(
    [...serviceStage.matchAll(/^ENV (.+)$/gm)].flatMap(([, pairs]) => pairs!.split(/\s+/).map((pair) => pair.split("=") as [string, string])),
  );
  const trading = topology.find((n) => n.name === "trading")!;
  const shared = { DATABASE_URL: "postgres://db", REDIS_URL: "redis://cache", REDIS_KEY_PREFIX: "m:" };
  expect(Object.keys(allocatorEnvironment).length).toBeGreaterThan(0);
  for (const [name, value] of Object.entries(allocatorEnvironment)) {
    expect([name, imageEnvironment[name]]).toEqual([name, value]);
    expect([name, processEnvironment(trading, shared)[name]]).toEqual([name, value]);
    // An operator's own value wins.
    expect([name, processEnvironment(trading, { ...shared, [name]: "operator's" })[name]]).toEqual([name, "operator's"]);
  }
});
