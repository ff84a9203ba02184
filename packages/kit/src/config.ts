/**
 * Configuration is one schema per concern, read once at start from the
 * environment (Effect `Config`), validated, and passed down as values.
 * A bad value fails start-up with {@link ConfigInvalid}, which names the variable.
 */
import { Config, ConfigProvider, Data, Effect, Schema } from "effect";
import { levels, type Level } from "./log.js";

/** Start-up failed because an environment variable is missing or malformed. */
export class ConfigInvalid extends Data.TaggedError("ConfigInvalid")<{
  readonly message: string;
}> {}

/** What every server reads: ports, limits, shutdown grace, logging. */
export interface ServerConfig {
  readonly host: string;
  /** Connect (JSON and binary) and gRPC-Web over HTTP/1.1; health and metrics. 0 picks a free port. */
  readonly httpPort: number;
  /** gRPC (and every other protocol) over HTTP/2 cleartext. 0 picks a free port. */
  readonly grpcPort: number;
  /** Largest request or response message, bytes. */
  readonly maxMessageBytes: number;
  /** The longest deadline a caller may ask for, and the one a call without a deadline gets. */
  readonly deadlineCapMs: number;
  /** How long in-flight requests may run after SIGTERM before they are cut. */
  readonly shutdownGraceMs: number;
  readonly logLevel: Level;
  /** Methods ("pkg.Service/Method") whose request bodies go into their access-log line, redacted. */
  readonly logBodies: ReadonlyArray<string>;
  /**
   * Which access-log lines carry the client's address: "errors" (failed calls; the default),
   * "all", or "off". Reading the address costs about 4 µs a request on Bun.serve (bench/).
   */
  readonly logPeer: "all" | "errors" | "off";
  /**
   * The most unary calls the server runs at once (MAX_CALLS_IN_FLIGHT; default: no limit). One
   * more is answered at once with `unavailable`, before its handler runs (server/admission.ts).
   */
  readonly maxCallsInFlight: number | undefined;
}

/** A TCP port to listen on: 0 to 65535, where 0 lets the OS pick. */
export function listenPort(name: string): Config.Config<number> {
  return Config.schema(
    Schema.FiniteFromString.pipe(Schema.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum: 65535 }))),
    name,
  );
}

/** A whole number greater than zero. */
export function positiveInt(name: string): Config.Config<number> {
  return Config.schema(
    Schema.FiniteFromString.pipe(Schema.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }))),
    name,
  );
}

/** The server schema, with its defaults. */
export const serverConfig: Config.Config<ServerConfig> = Config.all({
  host: Config.String("HOST").pipe(Config.withDefault("127.0.0.1")),
  httpPort: listenPort("HTTP_PORT").pipe(Config.withDefault(8080)),
  grpcPort: listenPort("GRPC_PORT").pipe(Config.withDefault(8081)),
  maxMessageBytes: positiveInt("MAX_MESSAGE_BYTES").pipe(Config.withDefault(4 * 1024 * 1024)),
  deadlineCapMs: positiveInt("DEADLINE_CAP_MS").pipe(Config.withDefault(30_000)),
  shutdownGraceMs: positiveInt("SHUTDOWN_GRACE_MS").pipe(Config.withDefault(10_000)),
  logLevel: Config.Literals(levels, "LOG_LEVEL").pipe(Config.withDefault<Level>("info")),
  logPeer: Config.Literals(["all", "errors", "off"], "LOG_PEER").pipe(Config.withDefault<"all" | "errors" | "off">("errors")),
  maxCallsInFlight: positiveInt("MAX_CALLS_IN_FLIGHT").pipe(Config.withDefault<number | undefined>(undefined)),
  logBodies: Config.String("LOG_BODIES").pipe(
    Config.withDefault(""),
    Config.map((list) => list.split(",").map((m) => m.trim()).filter((m) => m !== "")),
  ),
});

/**
 * Reads a config schema from the given environment (default: the process's),
 * failing with a message that names the bad variable and what was expected.
 */
export function readConfig<A>(
  schema: Config.Config<A>,
  env: Record<string, string | undefined> = process.env,
): Effect.Effect<A, ConfigInvalid> {
  const provider = ConfigProvider.fromEnv({ env: definedOnly(env) });
  return schema.parse(provider).pipe(
    Effect.mapError((error) => new ConfigInvalid({ message: `invalid configuration: ${describe(error)}` })),
  );
}

function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  return out;
}

function describe(error: Config.ConfigError): string {
  const cause = (error as { cause?: { message?: string } }).cause;
  return (cause?.message ?? String(error)).replace(/\n\s*/g, " ");
}

/** Where a service keeps its data. */
export interface DatabaseConfig {
  /** PostgreSQL URL; unset selects the embedded PGlite under `dataDir`. */
  readonly databaseUrl: string | undefined;
  /** The embedded database's folder (MERIDIAN_DATA_DIR, default ".meridian"). */
  readonly dataDir: string;
}

/** DATABASE_URL (optional) and MERIDIAN_DATA_DIR. */
export const databaseConfig: Config.Config<DatabaseConfig> = Config.all({
  databaseUrl: Config.String("DATABASE_URL").pipe(Config.withDefault<string | undefined>(undefined)),
  dataDir: Config.String("MERIDIAN_DATA_DIR").pipe(Config.withDefault(".meridian")),
});
