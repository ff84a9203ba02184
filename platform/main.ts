/**
 * The whole platform in one process (`bun start`): every service, served on
 * one HTTP port and one gRPC port, each with its own schema (embedded PGlite
 * under .meridian/ unless DATABASE_URL is set) and its own cache and event bus
 * (in-process and shared by all, unless REDIS_URL is set). Services call each
 * other in-process unless MERIDIAN_<NAME>_URL points elsewhere.
 * `bun start --service <name>` runs one service alone.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Effect, Layer, Option } from "effect";
import {
  corsConfig,
  layerServicesInProcess,
  readConfig,
  readServiceSettings,
  runMain,
  serve,
  Server,
  serverConfig,
  type ServiceDefinition,
} from "@meridian/kit";
import { DevApiKey, gateway, generateApiKey, type DevKeyInfo } from "@meridian/gateway";
import { market } from "@meridian/market";
import { planning } from "@meridian/planning";
import { portfolio } from "@meridian/portfolio";
import { scoring } from "@meridian/scoring";
import { trading } from "@meridian/trading";
import { universe } from "@meridian/universe";

/** Every service of the platform, in start order (a service's downstreams before it). */
const definitions: ReadonlyArray<ServiceDefinition<any>> = [universe, market, scoring, portfolio, trading, planning, gateway];

function selectedServices(argv: string[]): ReadonlyArray<ServiceDefinition<any>> {
  const at = argv.indexOf("--service");
  if (at < 0) return definitions;
  const name = argv[at + 1];
  const found = definitions.find((d) => d.name === name);
  if (found === undefined) {
    console.error(`unknown service ${JSON.stringify(name)}; one of: ${definitions.map((d) => d.name).join(", ")}`);
    process.exit(2);
  }
  return [found];
}

const selected = selectedServices(process.argv.slice(2));
const names = selected.map((d) => d.name);
if (names.includes("gateway")) rememberDevApiKey();

/**
 * The dev API key is kept in the data folder (mode 0600) and handed to the gateway, so every
 * `bun start` can print it, not only the first. GATEWAY_DEV_API_KEY, when set, wins.
 */
function rememberDevApiKey(): void {
  if (process.env.GATEWAY_DEV_API_KEY !== undefined && process.env.GATEWAY_DEV_API_KEY !== "") return;
  const dataDir = process.env.MERIDIAN_DATA_DIR ?? ".meridian";
  const file = join(dataDir, "dev-api-key");
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, `${generateApiKey()}\n`, { mode: 0o600 });
  }
  process.env.GATEWAY_DEV_API_KEY = readFileSync(file, "utf8").trim();
}

const platform = Layer.unwrap(
  // One server serves them all: the CORS allow-list is the edge's (the first definition that has one).
  Effect.map(
    Effect.all([readConfig(serverConfig), readServiceSettings, readConfig(selected.find((d) => d.cors !== undefined)?.cors ?? corsConfig)]),
    ([serverSettings, settings, cors]) => {
    const services = layerServicesInProcess(selected, settings, {
      maxMessageBytes: serverSettings.maxMessageBytes,
      deadlineCapMs: serverSettings.deadlineCapMs,
    });
    const bindings = selected.map((d) => d.binding);
    const server = serve({
      name: names.length === 1 ? names[0]! : "meridian",
      services: bindings,
      config: serverSettings,
      cors,
      httpRoutes: selected.flatMap((d) => d.httpRoutes ?? []),
    });
    const announcement = Effect.flatMap(Effect.all([Effect.service(Server), Effect.serviceOption(DevApiKey)]), ([addresses, key]) =>
      announce(addresses, Option.getOrUndefined(key)),
    );
    return Layer.effectDiscard(announcement).pipe(
      Layer.provide(server),
      Layer.provide(services),
    );
  },
  ),
);

/** Tells a person where everything is and how to try it. */
function announce(addresses: { http: { url: string }; grpc: { url: string } }, key: DevKeyInfo | undefined) {
  return Effect.sync(() => {
    const url = addresses.http.url;
    const lines = [
      "",
      `Meridian is running: ${names.join(", ")}`,
      `  HTTP/1.1 (Connect JSON and binary, gRPC-Web): ${url}`,
      `  HTTP/2 (gRPC, h2c):                          ${addresses.grpc.url}`,
      `  health:  ${url}/healthz   readiness: ${url}/readyz   metrics: ${url}/metrics`,
    ];
    if (names.includes("gateway")) {
      const call = (method: string, body: string) =>
        `curl -s -X POST ${url}/meridian.gateway.v1.GatewayService/${method} -H 'content-type: application/json' -H "authorization: Bearer $KEY" -d '${body}'`;
      lines.push(
        `  status page: ${url}/status/`,
        "",
        "Try a trading cycle (the dev API key acts for owner \"dev\"):",
        `  KEY=${key?.key ?? "<the dev key: set GATEWAY_DEV_API_KEY>"}`,
        `  ACCOUNT=$(${call("OpenAccount", '{"initialCashMinor":"10000000","currency":"USD","riskProfile":"RISK_PROFILE_BALANCED","idempotencyKey":"first"}')} | sed -E 's/.*"accountId":"([^"]+)".*/\\1/')`,
        `  ${call("RunTradingCycle", '{"accountId":"\'$ACCOUNT\'"}')}`,
        `  ${call("GetPortfolio", '{"accountId":"\'$ACCOUNT\'"}')}`,
      );
    } else if (names.includes("universe")) {
      lines.push(
        "",
        "Try:",
        `  curl -s -X POST ${url}/meridian.universe.v1.UniverseService/GetSecurity -H 'content-type: application/json' -d '{"symbol":"AAPL"}'`,
      );
    }
    lines.push("");
    process.stderr.write(`${lines.join("\n")}\n`);
  });
}

runMain(platform, { name: "meridian" });
