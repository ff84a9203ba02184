/**
 * CORS for browser callers: an allow-list of origins (CORS_ALLOWED_ORIGINS),
 * preflights answered before routing, and the Connect, gRPC-Web and Meridian
 * headers allowed in and exposed out. A preflight from any other origin gets
 * 403; its other requests get no CORS headers, so the browser keeps the answer from the page.
 */
import { cors as connectCors } from "@connectrpc/connect";
import { Config, Schema } from "effect";
import type { PeerOf } from "./call.js";

/** Which browser origins may call, and for how long a preflight holds. */
export interface CorsOptions {
  /** Exact origins (e.g. "https://app.example.com"), or "*" for any. Empty: no CORS. */
  readonly allowedOrigins: ReadonlyArray<string>;
  /** How long a browser may cache a preflight (default 2 h). */
  readonly maxAgeSeconds?: number;
}

/** Request headers a browser may send: Connect's and gRPC-Web's, plus correlation, trace context, auth and idempotency keys. */
export const corsAllowedHeaders: ReadonlyArray<string> = [
  ...connectCors.allowedHeaders.map((h) => h.toLowerCase()),
  "x-request-id",
  "traceparent",
  "tracestate",
  "authorization",
  "idempotency-key",
];

/** Response headers a page may read: gRPC-Web status and details, Connect's, the correlation id and retry-after. */
export const corsExposedHeaders: ReadonlyArray<string> = [
  ...connectCors.exposedHeaders.map((h) => h.toLowerCase()),
  "x-request-id",
  "retry-after",
];

/** An allow-list read from the variable `name`: comma-separated origins (scheme://host[:port]) or "*"; unset: none. */
export function corsOriginsConfig(name: string): Config.Config<CorsOptions> {
  return Config.schema(
    Schema.String.pipe(Schema.check(Schema.makeFilter((value: string) => originListProblem(value) ?? true))),
    name,
  ).pipe(
    Config.withDefault(""),
    Config.map((value) => ({ allowedOrigins: splitList(value) })),
  );
}

/** CORS_ALLOWED_ORIGINS: comma-separated origins (scheme://host[:port]) or "*"; unset: none. */
export const corsConfig: Config.Config<CorsOptions> = corsOriginsConfig("CORS_ALLOWED_ORIGINS");

/** A Fetch handler; `peer` is the client's address, when the listener knows it. */
type FetchHandler = (request: Request, peer?: PeerOf) => Promise<Response>;

/** Answers preflights and adds CORS headers for allowed origins; with no origin allowed, returns `handler` itself. */
export function withCors(handler: FetchHandler, options: CorsOptions): FetchHandler {
  if (options.allowedOrigins.length === 0) return handler;
  const anyOrigin = options.allowedOrigins.includes("*");
  const allowed = new Set(options.allowedOrigins);
  const maxAge = String(options.maxAgeSeconds ?? 7200);
  const allowHeaders = corsAllowedHeaders.join(", ");
  const exposeHeaders = corsExposedHeaders.join(", ");
  return async (request, peer) => {
    const origin = request.headers.get("origin");
    if (origin === null) return handler(request, peer);
    const isAllowed = anyOrigin || allowed.has(origin);
    if (request.method === "OPTIONS" && request.headers.has("access-control-request-method")) {
      if (!isAllowed) return new Response(null, { status: 403, headers: { vary: "Origin" } });
      return new Response(null, {
        status: 204,
        headers: {
          "access-control-allow-origin": anyOrigin ? "*" : origin,
          "access-control-allow-methods": [...connectCors.allowedMethods, "OPTIONS"].join(", "),
          "access-control-allow-headers": allowHeaders,
          "access-control-max-age": maxAge,
          vary: "Origin",
        },
      });
    }
    const response = await handler(request, peer);
    if (!isAllowed) return response;
    return withHeaders(response, {
      "access-control-allow-origin": anyOrigin ? "*" : origin,
      "access-control-expose-headers": exposeHeaders,
      vary: "Origin",
    });
  };
}

/** Adds headers, copying the response if its headers are immutable. */
function withHeaders(response: Response, headers: Record<string, string>): Response {
  try {
    for (const [key, value] of Object.entries(headers)) response.headers.set(key, value);
    return response;
  } catch {
    const copy = new Headers(response.headers);
    for (const [key, value] of Object.entries(headers)) copy.set(key, value);
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers: copy });
  }
}

function splitList(value: string): string[] {
  return value
    .split(",")
    .map((origin) => origin.trim())
    .filter((origin) => origin !== "");
}

function originListProblem(value: string): string | undefined {
  for (const origin of splitList(value)) {
    if (origin === "*") continue;
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      return `"${origin}" is not an origin (scheme://host[:port])`;
    }
    if (parsed.origin !== origin) return `"${origin}" is not an origin (scheme://host[:port], no path or trailing slash)`;
  }
  return undefined;
}
