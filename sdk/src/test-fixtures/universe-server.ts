/**
 * A tiny UniverseService (and TickerService) served with plain connect-node on
 * node:http or node:http2 (h2c), port 0, recording what it sees. Tests only.
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { toConnectError } from "../errors.js";
import { UnknownSymbolSchema } from "../gen/meridian/universe/v1/errors_pb.js";
import { UnknownSymbol } from "../gen/meridian/universe/v1/errors_meridian.js";
import { Sector, SecuritySchema, UniverseService } from "../gen/meridian/universe/v1/universe_pb.js";
import { TickerService } from "./ticker-service.js";

/** Symbols GetSecurity treats specially. */
export const symbols = {
  /** Waits until the call is cancelled. */
  slow: "SLOW",
  /** Fails with a bare `unavailable` ConnectError (no detail). */
  down: "DOWN",
  /** Fails with `data_loss`, a code no typed error claims. */
  lost: "LOST",
} as const;

/** A currency for which WatchSecurities never ends (until cancelled). */
export const endlessCurrency = "XXX";

/** One call as the server received it. */
export interface SeenCall {
  readonly procedure: string;
  readonly httpMethod: string;
  readonly headers: Headers;
}

/** A running test server. */
export interface UniverseServer {
  readonly baseUrl: string;
  /** Every call received, in order. */
  readonly calls: ReadonlyArray<SeenCall>;
  /** The procedure of each call whose signal was aborted while its handler waited, in order. */
  readonly aborted: ReadonlyArray<string>;
  close(): Promise<void>;
}

const securities = [
  { symbol: "AAPL", name: "Apple Inc.", sector: Sector.TECHNOLOGY, currency: "USD", active: true },
  { symbol: "XOM", name: "Exxon Mobil", sector: Sector.ENERGY, currency: "USD", active: true },
].map((init) => create(SecuritySchema, init));

/** Starts the server on a free port, over HTTP/1.1 (node:http) or HTTP/2 cleartext (node:http2). */
export async function startUniverseServer(httpVersion: "1.1" | "2" = "1.1"): Promise<UniverseServer> {
  const calls: Array<SeenCall> = [];
  const aborted: Array<string> = [];
  const see = (context: HandlerContext) =>
    calls.push({ procedure: context.method.name, httpMethod: context.requestMethod, headers: context.requestHeader });
  const waitForAbort = async (context: HandlerContext) => {
    await new Promise<void>((resolve) => context.signal.addEventListener("abort", () => resolve(), { once: true }));
    aborted.push(context.method.name);
  };

  const handler = connectNodeAdapter({
    routes(router) {
      router.service(UniverseService, {
        listSecurities(_request, context) {
          see(context);
          return { securities, page: { nextPageToken: "" } };
        },
        async getSecurity(request, context) {
          see(context);
          const security = securities.find((s) => s.symbol === request.symbol);
          if (security !== undefined) return { security };
          switch (request.symbol) {
            case symbols.slow:
              await waitForAbort(context);
              throw new ConnectError("cancelled", Code.Canceled);
            case symbols.down:
              throw new ConnectError("x", Code.Unavailable);
            case symbols.lost:
              throw new ConnectError("gone", Code.DataLoss);
            default:
              throw toConnectError(new UnknownSymbol({ symbol: request.symbol }), UnknownSymbolSchema, "universe");
          }
        },
        upsertSecurity(request, context) {
          see(context);
          return { security: request.security, created: true };
        },
      });
      router.service(TickerService, {
        async *watchSecurities(request, context) {
          see(context);
          if (request.currency === endlessCurrency) {
            yield securities[0]!;
            await waitForAbort(context);
            return;
          }
          for (const security of securities) {
            if (security.currency === request.currency || request.currency === "") yield security;
          }
          if (request.currency !== "" && request.currency !== "USD") {
            throw toConnectError(new UnknownSymbol({ symbol: request.currency }), UnknownSymbolSchema, "universe");
          }
        },
      });
    },
  });

  // Bun's node:http emits "error" (aborted) on a request the client cancels even when nothing
  // listens, which would surface as an unhandled error; Node stays silent. Listen to ignore it.
  const listener: typeof handler = (request, response) => {
    request.on("error", () => {});
    handler(request, response);
  };
  const server = httpVersion === "2" ? http2.createServer(listener) : http.createServer(listener);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    calls,
    aborted,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if (server instanceof http.Server) server.closeAllConnections();
        for (const session of sessions) session.destroy();
      }),
  };
}
