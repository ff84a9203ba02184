/**
 * The one call every server is measured with: meridian.bench.v1.BenchService/Echo
 * over Connect JSON. Each server parses the request and answers it with one
 * computed field; the bench checks the answer against {@link echoOf} before it
 * measures anything.
 */

/** The method's HTTP path, the same on every server. */
export const echoPath = "/meridian.bench.v1.BenchService/Echo";

/** What the load generators send, byte for byte. */
export const echoRequestBody = JSON.stringify({ message: "hello, meridian", number: 42 });

/** The request, as every server reads it. */
export interface Echo {
  readonly message: string;
  readonly number: number;
}

/** The answer to a request: the request with its message's length (UTF-16 code units). */
export function echoOf(request: Echo): Echo & { readonly messageLength: number } {
  return { message: request.message, number: request.number, messageLength: request.message.length };
}

/** The port a server process listens on, given by the bench in PORT. */
export function portFromEnv(): number {
  const port = Number(process.env.PORT);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`PORT must be a TCP port, got ${process.env.PORT}`);
  return port;
}
