/**
 * The universe API through the SDK, against the service as a real process, on
 * each protocol it serves: Connect JSON over HTTP/1.1 (fetch), gRPC over
 * HTTP/2 and gRPC-Web over HTTP/1.1 (connect-node); on PGlite and on PostgreSQL.
 */
import { expect, test } from "bun:test";
import { Effect } from "effect";
import { createEffectClient, createMeridianClient, createNodeTransport, type ClientTarget } from "@meridian/sdk/node";
import { Sector, Universe } from "@meridian/sdk/universe";
import type { RunningService } from "@meridian/kit/testing";
import { describeUniverse, seededSymbols } from "./universe-process.js";

interface Protocol {
  readonly name: string;
  /** The `protocol` the service's access log should name. */
  readonly logged: "connect" | "grpc" | "grpc-web";
  readonly target: (service: RunningService) => ClientTarget;
}

const protocols: ReadonlyArray<Protocol> = [
  { name: "Connect JSON over HTTP/1.1 (fetch)", logged: "connect", target: (s) => ({ baseUrl: s.httpUrl }) },
  {
    name: "gRPC over HTTP/2",
    logged: "grpc",
    target: (s) => ({ transport: createNodeTransport({ baseUrl: s.grpcUrl, protocol: "grpc" }) }),
  },
  {
    name: "gRPC-Web over HTTP/1.1",
    logged: "grpc-web",
    target: (s) => ({ transport: createNodeTransport({ baseUrl: s.httpUrl, protocol: "grpc-web" }) }),
  },
];

describeUniverse("universe API through the SDK", (universe) => {
  // Symbols this suite has created so far: listings must show them too.
  const upserted = new Set<string>();

  for (const protocol of protocols) {
    const client = () => createMeridianClient(Universe, protocol.target(universe()));

    test(`${protocol.name}: paging by 10 walks every security exactly once`, async () => {
      const walked: string[] = [];
      let pageToken = "";
      let pages = 0;
      do {
        const response = await client().listSecurities({ page: { pageSize: 10, pageToken } });
        expect(response.securities.length).toBeLessThanOrEqual(10);
        walked.push(...response.securities.map((s) => s.symbol));
        pageToken = response.page?.nextPageToken ?? "";
        pages += 1;
        expect(pages).toBeLessThan(20);
      } while (pageToken !== "");
      const expected = [...seededSymbols, ...upserted];
      expect(walked.length).toBe(expected.length);
      expect(new Set(walked).size).toBe(walked.length);
      expect(new Set(walked)).toEqual(new Set(expected));
      expect(pages).toBe(Math.ceil(expected.length / 10));
      // The pages, end to end, are the one-page listing: same order, nothing skipped or repeated.
      const all = await client().listSecurities({ page: { pageSize: 500 } });
      expect(walked).toEqual(all.securities.map((s) => s.symbol));
      expect(all.page?.nextPageToken).toBe("");
    });

    test(`${protocol.name}: get returns the security, over the protocol asked for`, async () => {
      const requestId = `api-get-${crypto.randomUUID()}`;
      const response = await client().getSecurity({ symbol: "XOM" }, { headers: { "x-request-id": requestId } });
      expect(response.security).toMatchObject({ symbol: "XOM", name: "Exxon Mobil", sector: Sector.ENERGY, currency: "USD", active: true });
      const line = await universe().waitForLog((l) => l.correlation_id === requestId);
      expect(line).toMatchObject({ method: "meridian.universe.v1.UniverseService/GetSecurity", protocol: protocol.logged, code: "ok" });
    });

    test(`${protocol.name}: upsert creates, then replaces`, async () => {
      const symbol = `E2E${protocol.logged.replace("-", "").toUpperCase()}`.slice(0, 10);
      const security = { symbol, name: "End To End Ltd", sector: Sector.INDUSTRIALS, currency: "EUR", active: true };
      const first = await client().upsertSecurity({ security });
      upserted.add(symbol);
      expect(first.created).toBe(true);
      expect(first.security).toMatchObject(security);
      const second = await client().upsertSecurity({ security: { ...security, name: "End To End plc", active: false } });
      expect(second.created).toBe(false);
      expect(second.security).toMatchObject({ symbol, name: "End To End plc", active: false });
      const read = await client().getSecurity({ symbol });
      expect(read.security).toMatchObject({ symbol, name: "End To End plc", currency: "EUR", active: false });
    });

    test(`${protocol.name}: an unknown symbol is a typed UnknownSymbol carrying the symbol`, async () => {
      const effectClient = createEffectClient(Universe, protocol.target(universe()));
      const outcome = await Effect.runPromise(
        effectClient.getSecurity({ symbol: "NOSUCH" }).pipe(
          Effect.map(() => "found"),
          Effect.catchTag("UnknownSymbol", (error) => Effect.succeed(`UnknownSymbol ${error.symbol}`)),
        ),
      );
      expect(outcome).toBe("UnknownSymbol NOSUCH");
    });
  }
});
