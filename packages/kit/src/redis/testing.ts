/**
 * A redis-server of a test's own, on a free port, that the test may stop and start again to
 * simulate an outage or a restart (it keeps nothing on disk, like the shared one). Tests only.
 */
import type { Subprocess } from "bun";
import { freePort } from "../testing/ports.js";

/** A redis-server the test controls. */
export interface RedisServerProcess {
  readonly port: number;
  readonly url: string;
  /** Kills it at once (SIGKILL): every key is gone, connections drop. */
  readonly stop: () => Promise<void>;
  /** Starts it again on the same port, empty; resolves once it answers. */
  readonly start: () => Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open, nothing answers. */
  readonly pause: () => void;
  /** Thaws it (SIGCONT). */
  readonly resume: () => void;
}

/** Starts a redis-server on a free port, with no persistence; resolves once it accepts connections. */
export async function startRedisServer(): Promise<RedisServerProcess> {
  const port = await freePort();
  let proc: Subprocess | undefined;
  const start = async () => {
    proc = Bun.spawn(
      ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdout: "ignore", stderr: "ignore" },
    );
    await waitUntilAccepting(port);
  };
  const stop = async () => {
    if (proc === undefined) return;
    proc.kill("SIGCONT");
    proc.kill("SIGKILL");
    await proc.exited;
    proc = undefined;
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    start,
    pause: () => proc?.kill("SIGSTOP"),
    resume: () => proc?.kill("SIGCONT"),
  };
}


async function waitUntilAccepting(port: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const answered = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: { data() {} },
    }).then(
      (socket) => {
        socket.end();
        return true;
      },
      () => false,
    );
    if (answered) return;
    await Bun.sleep(20);
  }
  throw new Error(`redis-server on port ${port} did not start within 5 s`);
}
