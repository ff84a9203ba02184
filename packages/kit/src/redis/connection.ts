/**
 * The service's Redis connection (node-redis): opened and proven at start-up, reconnected with
 * backoff when lost, closed with the Layer's scope.
 */
import { Context, Effect, Layer, type Scope } from "effect";
import { createClient } from "redis";
import { writeLogLine } from "../log.js";
import { RedisUnavailable } from "./errors.js";

/** A node-redis client as the kit opens it (RESP3, no offline queue). */
export type RedisClient = ReturnType<typeof createClient>;

/** What the kit's Redis users get. */
export interface RedisConnection {
  /**
   * The shared client, for every command but blocking reads. While the connection is down,
   * commands fail at once (there is no offline queue) instead of piling up.
   */
  readonly client: RedisClient;
  /** `host:port`, for logs and errors; never the password. */
  readonly address: string;
  /**
   * A connection of its own, reconnecting like the shared one, for commands that block it
   * (XREADGROUP BLOCK); destroyed when the scope closes.
   */
  readonly dedicated: Effect.Effect<RedisClient, never, Scope.Scope>;
}

/** The Redis connection of this process. */
export class Redis extends Context.Service<Redis, RedisConnection>()("@meridian/kit/Redis") {}

/** How to reach Redis. */
export interface RedisOptions {
  readonly url: string;
  /** Bound on the start-up connection and on each (re)connect attempt, ms (default 5000). */
  readonly connectTimeoutMs?: number;
  /** Reconnect backoff: first delay and cap, ms (defaults 50 and 2000), with jitter. */
  readonly reconnectBaseMs?: number;
  readonly reconnectCapMs?: number;
}

const defaultConnectTimeoutMs = 5000;
// Replies still owed at shutdown get this long before the socket is cut.
const closeTimeoutMs = 2000;

/**
 * Provides a Redis client proven to answer PING at start-up (else `RedisUnavailable`, never naming
 * the password), reconnecting forever with capped exponential backoff, closed on release.
 */
export const layerRedis = (options: RedisOptions): Layer.Layer<Redis, RedisUnavailable> =>
  Layer.effect(
    Redis,
    Effect.gen(function* () {
      const address = addressOf(options.url);
      const clientOptions = clientOptionsFor(options);
      const client = yield* Effect.acquireRelease(open(clientOptions, address, "shared", options), close);
      const dedicated = Effect.acquireRelease(
        Effect.sync(() => connectInBackground(createClient(clientOptions), address, "dedicated")),
        (c) => Effect.sync(() => destroyQuietly(c)),
      );
      return { client, address, dedicated };
    }),
  );

const clientOptionsFor = (options: RedisOptions) => {
  const base = options.reconnectBaseMs ?? 50;
  const cap = options.reconnectCapMs ?? 2000;
  return {
    url: options.url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.connectTimeoutMs ?? defaultConnectTimeoutMs,
      keepAlive: true,
      // Equal jitter: half the exponential delay, plus a random half, so restarts do not stampede.
      reconnectStrategy: (retries: number) => {
        const delay = Math.min(cap, base * 2 ** Math.min(retries, 16));
        return Math.round(delay / 2 + (Math.random() * delay) / 2);
      },
    },
  };
};

const open = (
  clientOptions: ReturnType<typeof clientOptionsFor>,
  address: string,
  role: string,
  options: RedisOptions,
): Effect.Effect<RedisClient, RedisUnavailable> =>
  Effect.callback<RedisClient, RedisUnavailable>((resume) => {
    const timeoutMs = options.connectTimeoutMs ?? defaultConnectTimeoutMs;
    let client: RedisClient;
    try {
      client = createClient(clientOptions);
    } catch {
      // The parser's error can quote the URL, password included: say only that it is malformed.
      resume(Effect.fail(new RedisUnavailable({ address, message: "the Redis URL cannot be parsed" })));
      return;
    }
    let lastError = "no answer";
    const onError = (e: unknown) => {
      lastError = e instanceof Error ? e.message : String(e);
    };
    client.on("error", onError);
    const timer = setTimeout(() => {
      destroyQuietly(client);
      resume(
        Effect.fail(
          new RedisUnavailable({
            address,
            message: `Redis at ${address} is unavailable: ${redact(lastError, options.url)} (waited ${timeoutMs} ms)`,
          }),
        ),
      );
    }, timeoutMs);
    client
      .connect()
      .then(() => client.ping())
      .then(
        () => {
          clearTimeout(timer);
          client.off("error", onError);
          watchState(client, address, role);
          resume(Effect.succeed(client));
        },
        () => {}, // the timer reports the failure with the last connection error
      );
    return Effect.sync(() => {
      clearTimeout(timer);
      destroyQuietly(client);
    });
  });

/** Starts connecting a client without waiting: it answers once connected, fails fast until then. */
const connectInBackground = (client: RedisClient, address: string, role: string): RedisClient => {
  watchState(client, address, role);
  client.connect().catch(() => {});
  return client;
};

// One line when the connection is lost and one when it is back, not one per failed attempt.
const watchState = (client: RedisClient, address: string, role: string): void => {
  let lost = false;
  client.on("error", (e: unknown) => {
    if (lost) return;
    lost = true;
    writeLogLine("warn", "redis connection lost; reconnecting", {
      address,
      connection: role,
      error: e instanceof Error ? e.message : String(e),
    });
  });
  client.on("ready", () => {
    if (!lost) return;
    lost = false;
    writeLogLine("info", "redis connection restored", { address, connection: role });
  });
};

const close = (client: RedisClient): Effect.Effect<void> =>
  Effect.promise(async () => {
    if (!client.isOpen) return;
    const timer = setTimeout(() => destroyQuietly(client), closeTimeoutMs);
    await client.close().catch(() => destroyQuietly(client));
    clearTimeout(timer);
  });

const destroyQuietly = (client: RedisClient): void => {
  try {
    if (client.isOpen) client.destroy();
  } catch {
    // already closed
  }
};

const addressOf = (url: string): string => {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || "6379"}`;
  } catch {
    return "(unparsable URL)";
  }
};

const redact = (text: string, url: string): string => {
  try {
    const { password } = new URL(url);
    if (password === "") return text;
    return text.replaceAll(decodeURIComponent(password), "***").replaceAll(password, "***");
  } catch {
    return text;
  }
};
