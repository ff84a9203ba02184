/**
 * The fallback load generator, for machines without wrk: N keep-alive HTTP/1.1
 * connections over raw sockets, each sending the next POST as soon as the
 * previous response has fully arrived (no pipelining), for a given duration.
 * Prints one JSON {@link LoadResult} line on stdout.
 *
 *   bun bench/load/socket-client.ts <url> <connections> <durationS> <body>
 *
 * It parses just enough HTTP/1.1 to find each response's end (Content-Length or
 * chunked), so the client's own cost stays small next to the server's.
 */
import { connect, type Socket } from "node:net";
import type { LoadResult } from "./result.js";

const [url, connectionsArg, durationArg, body] = process.argv.slice(2);
if (url === undefined || body === undefined) throw new Error("usage: socket-client.ts <url> <connections> <durationS> <body>");
const target = new URL(url);
const connections = Number(connectionsArg);
const durationMs = Number(durationArg) * 1000;

const request = Buffer.from(
  `POST ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nContent-Type: application/json\r\n` +
    `Connect-Protocol-Version: 1\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
);

/** Latency histogram in whole microseconds up to 1 s; slower responses count in the last bucket. */
const maxMicros = 1_000_000;
const histogram = new Uint32Array(maxMicros + 1);
let measuring = true;
let stopped = false;
let completed = 0;
let non2xx = 0;
let socketErrors = 0;

const crlfcrlf = Buffer.from("\r\n\r\n");

/** One keep-alive connection: send, read the whole response, record, repeat. */
function runConnection(): Socket {
  const socket = connect({ host: target.hostname, port: Number(target.port), noDelay: true });
  let pending: Buffer = Buffer.alloc(0);
  let sentAt = 0;
  const send = () => {
    if (stopped) return;
    sentAt = performance.now();
    socket.write(request);
  };
  socket.on("connect", send);
  socket.on("error", () => {
    socketErrors++;
  });
  socket.on("data", (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    for (;;) {
      const parsed = parseResponse(pending);
      if (parsed === undefined) return;
      pending = pending.subarray(parsed.length);
      if (measuring) {
        completed++;
        if (parsed.status < 200 || parsed.status > 299) non2xx++;
        const micros = Math.round((performance.now() - sentAt) * 1000);
        histogram[micros < maxMicros ? micros : maxMicros]!++;
      }
      send();
    }
  });
  return socket;
}

/** The status and total length of the first complete response in `data`, or undefined if it is not all there yet. */
function parseResponse(data: Buffer): { status: number; length: number } | undefined {
  const headerEnd = data.indexOf(crlfcrlf);
  if (headerEnd < 0) return undefined;
  const head = data.toString("latin1", 0, headerEnd);
  const status = Number(head.slice(9, 12));
  const lower = head.toLowerCase();
  const lengthAt = lower.indexOf("\r\ncontent-length:");
  const bodyStart = headerEnd + 4;
  if (lengthAt >= 0) {
    const lineEnd = lower.indexOf("\r\n", lengthAt + 2);
    const length = Number(lower.slice(lengthAt + 17, lineEnd < 0 ? undefined : lineEnd).trim());
    return data.length >= bodyStart + length ? { status, length: bodyStart + length } : undefined;
  }
  if (lower.includes("\r\ntransfer-encoding: chunked")) {
    let at = bodyStart;
    for (;;) {
      const sizeEnd = data.indexOf("\r\n", at);
      if (sizeEnd < 0) return undefined;
      const size = Number.parseInt(data.toString("latin1", at, sizeEnd), 16);
      if (size === 0) {
        const end = data.indexOf(crlfcrlf, sizeEnd); // no trailers expected: "0\r\n\r\n"
        return end < 0 ? undefined : { status, length: end + 4 };
      }
      at = sizeEnd + 2 + size + 2;
      if (data.length < at) return undefined;
    }
  }
  return { status, length: bodyStart }; // no body (e.g. 204)
}

function percentileMs(p: number): number {
  const rank = Math.ceil((p / 100) * completed);
  let seen = 0;
  for (let micros = 0; micros <= maxMicros; micros++) {
    seen += histogram[micros]!;
    if (seen >= rank) return micros / 1000;
  }
  return maxMicros / 1000;
}

const sockets = Array.from({ length: connections }, runConnection);
const startedAt = performance.now();
await Bun.sleep(durationMs);
measuring = false;
stopped = true;
const elapsedS = (performance.now() - startedAt) / 1000;
for (const socket of sockets) socket.destroy();

const result: LoadResult = {
  generator: "socket-client",
  requests: completed,
  durationS: elapsedS,
  rps: completed / elapsedS,
  p50Ms: percentileMs(50),
  p99Ms: percentileMs(99),
  non2xx,
  socketErrors,
};
console.log(JSON.stringify(result));
process.exit(0);
