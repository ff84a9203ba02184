/**
 * The whole platform in one process (`bun start`): every service, served on
 * one HTTP port and one gRPC port, each with its own schema (embedded PGlite
 * under .meridian/ unless DATABASE_URL is set) and its own cache and event bus
 * (in-process and shared by all, unless REDIS_URL is set). Services call each
 * other in-process unless MERIDIAN_<NAME>_URL points elsewhere.
 * `bun start --service <name>` runs one service alone.
 */
import { Effect, Layer } from "effect";
import {
  corsConfig,
  layerServiceResources,
  readConfig,
  readServiceSettings,
  runMain,
  serve,
  Server,
  serverConfig,
  type ServiceDefinition,
} from "@meridian/kit";
import { deferredLocalServices, LocalServices } from "@meridian/kit/client";
import { universe } from "@meridian/universe";

/** Every service of the platform, in start order (a service's downstreams before it). */
const definitions: ReadonlyArray<ServiceDefinition<any>> = [universe];

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

const platform = Layer.unwrap(
  // One server serves them all: the CORS allow-list is the edge's (the first definition that has one).
  Effect.map(
    Effect.all([readConfig(serverConfig), readServiceSettings, readConfig(selected.find((d) => d.cors !== undefined)?.cors ?? corsConfig)]),
    ([serverSettings, settings, cors]) => {
    // Clients of services without a URL reach them in-process, once they are bound (after all resources start).
    const local = deferredLocalServices();
    const resources = selected
      .map((definition) => layerServiceResources(definition, settings))
      .reduce((all, layer) => Layer.merge(all, layer))
      .pipe(Layer.provideMerge(Layer.succeed(LocalServices, local.registry)));
    const bindings = selected.map((d) => d.binding);
    const bindLocal = Layer.effectDiscard(
      Effect.map(Effect.all(bindings), (bound) =>
        local.bind(bound, { maxMessageBytes: serverSettings.maxMessageBytes, deadlineCapMs: serverSettings.deadlineCapMs }),
      ),
    );
    const server = serve({
      name: names.length === 1 ? names[0]! : "meridian",
      services: bindings,
      config: serverSettings,
      cors,
      httpRoutes: selected.flatMap((d) => d.httpRoutes ?? []),
    });
    return Layer.effectDiscard(Effect.flatMap(Effect.service(Server), announce)).pipe(
      Layer.provide(Layer.merge(server, bindLocal)),
      Layer.provide(resources),
    );
  },
  ),
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
