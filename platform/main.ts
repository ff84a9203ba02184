/**
 * The whole platform in one process (`bun start`): every service, served on
 * one HTTP port and one gRPC port, each service with its own embedded
 * PostgreSQL (PGlite under .meridian/) unless DATABASE_URL is set.
 * `bun start --service <name>` runs one service alone.
 */
import { Effect, Layer } from "effect";
import { databaseConfig, readConfig, runMain, serve, Server, serverConfig } from "@meridian/kit";
import { deferredLocalServices, LocalServices } from "@meridian/kit/client";
import * as universe from "@meridian/universe";

/** Every service of the platform: its bound handlers and the Layers they need. */
const services = {
  universe: (database: { databaseUrl: string | undefined; dataDir: string }) => ({
    binding: universe.universeService,
    layer: universe.layerUniverse(database),
  }),
} as const;

type ServiceName = keyof typeof services;

function selectedServices(argv: string[]): ServiceName[] {
  const at = argv.indexOf("--service");
  if (at < 0) return Object.keys(services) as ServiceName[];
  const name = argv[at + 1];
  if (name === undefined || !(name in services)) {
    console.error(`unknown service ${JSON.stringify(name)}; one of: ${Object.keys(services).join(", ")}`);
    process.exit(2);
  }
  return [name as ServiceName];
}

const names = selectedServices(process.argv.slice(2));

const platform = Layer.unwrap(
  Effect.map(Effect.all([readConfig(serverConfig), readConfig(databaseConfig)]), ([serverSettings, database]) => {
    const parts = names.map((name) => services[name](database));
    // Services call each other in-process (local mode) unless MERIDIAN_<NAME>_URL points elsewhere:
    // their clients are built with the resources, and reach the services once these are bound.
    const local = deferredLocalServices();
    const resources = parts
      .map((p) => p.layer)
      .reduce((all, layer) => Layer.merge(all, layer))
      .pipe(Layer.provideMerge(Layer.succeed(LocalServices, local.registry)));
    const bindLocal = Layer.effectDiscard(
      Effect.map(Effect.all(parts.map((p) => p.binding)), (bindings) =>
        local.bind(bindings, { maxMessageBytes: serverSettings.maxMessageBytes, deadlineCapMs: serverSettings.deadlineCapMs }),
      ),
    );
    const server = serve({
      name: names.length === 1 ? names[0]! : "meridian",
      services: parts.map((p) => p.binding),
      config: serverSettings,
    });
    return Layer.effectDiscard(Effect.flatMap(Effect.service(Server), announce)).pipe(
      Layer.provide(Layer.merge(server, bindLocal)),
      Layer.provide(resources),
    );
  }),
);

/** Tells a person where everything is and how to try it. */
function announce(addresses: { http: { url: string }; grpc: { url: string } }) {
  return Effect.sync(() => {
    const lines = [
      "",
      `Meridian is running: ${names.join(", ")}`,
      `  HTTP/1.1 (Connect JSON and binary, gRPC-Web): ${addresses.http.url}`,
      `  HTTP/2 (gRPC, h2c):                          ${addresses.grpc.url}`,
      `  health:  ${addresses.http.url}/healthz   readiness: ${addresses.http.url}/readyz`,
      "",
      "Try:",
      `  curl -s -X POST ${addresses.http.url}/meridian.universe.v1.UniverseService/GetSecurity -H 'content-type: application/json' -d '{"symbol":"AAPL"}'`,
      "",
    ];
    process.stderr.write(`${lines.join("\n")}\n`);
  });
}

runMain(platform, { name: "meridian" });
