/**
 * The status page's HTTP routes: static HTML and CSS from this folder, and its
 * script bundled from page.ts with Bun.build (target browser, the SDK's browser
 * entry) on the first request that needs it, then kept in memory. Nothing
 * generated is committed. No API key is needed for these files: the page asks
 * for one and sends it on its RPCs.
 */
import { fileURLToPath } from "node:url";
import type { HttpRoute } from "@meridian/kit";
import { writeLogLine } from "@meridian/kit";

const folder = fileURLToPath(new URL(".", import.meta.url));

/** Where the page lives. */
export const statusPagePath = "/status/";

const securityHeaders = {
  "content-security-policy": "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

let script: Promise<string> | undefined;

/** The page's script, built once; a failed build is not kept, so the next request tries again. */
export function statusPageScript(): Promise<string> {
  script ??= buildScript().catch((e: unknown) => {
    script = undefined;
    throw e;
  });
  return script;
}

async function buildScript(): Promise<string> {
  const started = performance.now();
  const built = await Bun.build({ entrypoints: [`${folder}page.ts`], target: "browser", minify: true });
  if (!built.success || built.outputs[0] === undefined) {
    throw new AggregateError(built.logs, `the status page script did not build: ${built.logs.map(String).join("; ")}`);
  }
  const text = await built.outputs[0].text();
  writeLogLine("info", "status page script built", { bytes: text.length, duration_ms: Math.round(performance.now() - started) });
  return text;
}

async function serveFile(request: Request): Promise<Response> {
  if (request.method !== "GET" && request.method !== "HEAD") return new Response("method not allowed", { status: 405, headers: { allow: "GET, HEAD" } });
  const file = new URL(request.url).pathname.slice(statusPagePath.length);
  switch (file) {
    case "":
    case "index.html":
      return new Response(Bun.file(`${folder}index.html`), { headers: { "content-type": "text/html; charset=utf-8", ...securityHeaders } });
    case "style.css":
      return new Response(Bun.file(`${folder}style.css`), { headers: { "content-type": "text/css; charset=utf-8", ...securityHeaders } });
    case "app.js":
      return new Response(await statusPageScript(), {
        headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache", ...securityHeaders },
      });
    default:
      return new Response("not found", { status: 404, headers: { "content-type": "text/plain" } });
  }
}

const toPage = () => new Response(null, { status: 302, headers: { location: statusPagePath } });

/** `/` and `/status` redirect to the page; everything under `/status/` is the page's files. */
export const statusPageRoutes: ReadonlyArray<HttpRoute> = [
  { path: "/", fetch: toPage },
  { path: "/status", fetch: toPage },
  { path: statusPagePath, prefix: true, fetch: serveFile },
];
