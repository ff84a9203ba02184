/**
 * `bun bench/platform/grpc-unary.ts`: what one unary gRPC call costs each side, the hop every
 * PlaceOrder makes twice between services. A kit gRPC listener (bench/platform/grpc-server.ts)
 * in its own process, with the fast path (`fast`) or connect's generic handler (`generic`); this
 * process calls BenchService/Echo with `--concurrency` calls in flight for `--duration` seconds
 * through each client: connect-node's gRPC transport and the SDK's node gRPC transport.
 * Rounds interleave the pairs; CPU per call (server's and this process's) is the median of rounds.
 *
 *   bun bench/platform/grpc-unary.ts [--rounds 5] [--duration 2] [--concurrency 32]
 */
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createNodeTransport } from "../../sdk/src/node-transport.js";
import { Bench } from "../../sdk/src/gen/meridian/bench/v1/bench_meridian.js";
import { cpuSecondsOf } from "../cpu.js";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    duration: { type: "string", default: "2" },
    concurrency: { type: "string", default: "32" },
  },
});

const clients: Record<string, (baseUrl: string) => Transport> = {
  "connect-node": (baseUrl) => createGrpcTransport({ baseUrl }),
  "sdk-node": (baseUrl) => createNodeTransport({ baseUrl, protocol: "grpc" }),
};

async function startServer(path: "fast" | "generic", port: number) {
  const proc = Bun.spawn(["bun", new URL("./grpc-server.ts", import.meta.url).pathname], {
    env: { ...process.env, PORT: String(port), BENCH_GRPC_PATH: path },
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = proc.stdout.getReader();
  const { value } = await reader.read();
  if (!new TextDecoder().decode(value).includes("listening")) throw new Error("server did not start");
  return { proc, url: `http://127.0.0.1:${port}` };
}

async function measure(transport: Transport, pid: number, durationS: number, concurrency: number) {
  const client = createClient(Bench.desc, transport);
  const request = { message: "hello, meridian", number: 42 };
  for (let i = 0; i < 200; i++) await client.echo(request); // warm-up
  const serverBefore = cpuSecondsOf(pid) ?? 0;
  const clientBefore = process.cpuUsage();
  const end = performance.now() + durationS * 1000;
  let calls = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const response = await client.echo(request);
        if (response.messageLength !== 15) throw new Error("wrong answer");
        calls++;
      }
    }),
  );
  const clientCpu = process.cpuUsage(clientBefore);
  const serverS = (cpuSecondsOf(pid) ?? 0) - serverBefore;
  return {
    callsPerS: calls / durationS,
    serverUs: (serverS * 1e6) / calls,
    clientUs: (clientCpu.user + clientCpu.system) / calls,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const servers = { fast: await startServer("fast", 45091), generic: await startServer("generic", 45092) };
const results = new Map<string, Array<{ callsPerS: number; serverUs: number; clientUs: number }>>();
try {
  const transports = new Map<string, Transport>();
  for (const [path, server] of Object.entries(servers))
    for (const [name, make] of Object.entries(clients)) transports.set(`${path} ${name}`, make(server.url));
  const keys = [...transports.keys()];
  for (let round = 0; round < Number(args.rounds); round++) {
    for (let i = 0; i < keys.length; i++) {
      const key = keys[(i + round) % keys.length]!;
      const server = servers[key.split(" ")[0] as "fast" | "generic"];
      const result = await measure(transports.get(key)!, server.proc.pid, Number(args.duration), Number(args.concurrency));
      results.set(key, [...(results.get(key) ?? []), result]);
    }
  }
} finally {
  for (const server of Object.values(servers)) server.proc.kill();
}
const lines = [
  `${new Date().toISOString()} · Bun ${Bun.version} · ${cpus().length} cores · load ${loadavg().map((l) => l.toFixed(2)).join(" ")}`,
  `${args.rounds} rounds × ${args.duration} s at ${args.concurrency} in flight, Echo over gRPC (h2c, one session per client); medians of rounds.`,
  "",
  "| server path | client | calls/s | server CPU µs/call | client CPU µs/call |",
  "|---|---|---|---|---|",
  ...[...results].map(([key, rs]) => {
    const [path, client] = key.split(" ");
    return `| ${path} | ${client} | ${median(rs.map((r) => r.callsPerS)).toFixed(0)} | ${median(rs.map((r) => r.serverUs)).toFixed(1)} | ${median(rs.map((r) => r.clientUs)).toFixed(1)} |`;
  }),
];
console.log(lines.join("\n"));
