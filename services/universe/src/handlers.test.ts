/**
 * The universe handlers over an in-process transport, on the embedded
 * database (PGlite, as `bun start` runs it), through the typed Effect client.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Effect, Layer, ManagedRuntime } from "effect";
import { inProcess } from "@meridian/kit";
import { createEffectClient, type EffectClient } from "@meridian/sdk";
import { Sector, Universe } from "@meridian/sdk/universe";
import { layerStore, layerUniverseDatabase, universeService } from "./service.js";

const dataDir = mkdtempSync(join(tmpdir(), "universe-handlers-"));
const runtime = ManagedRuntime.make(
  layerStore.pipe(Layer.provideMerge(layerUniverseDatabase({ databaseUrl: undefined, dataDir }))),
);
let client: EffectClient<typeof Universe>;

beforeAll(async () => {
  const transport = await runtime.runPromise(inProcess([universeService]));
  client = createEffectClient(Universe, { transport });
}, 60_000);

afterAll(async () => {
  await runtime.dispose();
  rmSync(dataDir, { recursive: true, force: true });
});

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect);
const failureOf = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(Effect.flip(effect));

describe("universe handlers", () => {
  test("the shipped dataset is loaded on first start", async () => {
    const { securities } = await run(client.listSecurities({ page: { pageSize: 500 } }));
    expect(securities.length).toBeGreaterThanOrEqual(40);
    expect(new Set(securities.map((s) => s.sector)).size).toBe(11);
  });

  test("paging walks every security once, in symbol order", async () => {
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await run(client.listSecurities({ page: { pageSize: 7, pageToken } }));
      expect(page.securities.length).toBeLessThanOrEqual(7);
      seen.push(...page.securities.map((s) => s.symbol));
      pageToken = page.page?.nextPageToken ?? "";
    } while (pageToken !== "");
    const all = await run(client.listSecurities({ page: { pageSize: 500 } }));
    expect(seen).toEqual(all.securities.map((s) => s.symbol));
    expect([...seen].sort()).toEqual(seen);
  });

  test("filters by sector, currency and active", async () => {
    const { securities } = await run(client.listSecurities({ sector: Sector.ENERGY, currency: "USD", active: true }));
    expect(securities.length).toBeGreaterThan(0);
    expect(securities.every((s) => s.sector === Sector.ENERGY && s.currency === "USD" && s.active)).toBe(true);
  });

  test("a page token is bound to the filters it was issued for", async () => {
    const first = await run(client.listSecurities({ page: { pageSize: 2 } }));
    const error = await failureOf(
      client.listSecurities({ sector: Sector.ENERGY, page: { pageSize: 2, pageToken: first.page!.nextPageToken } }),
    );
    expect(error._tag).toBe("InvalidArgument");
    if (error._tag === "InvalidArgument") expect(error.fieldViolations.map((v) => v.field)).toEqual(["page.page_token"]);
  });

  test("page_size over 500 and a garbage token are named violations", async () => {
    const error = await failureOf(client.listSecurities({ page: { pageSize: 501, pageToken: "garbage!" } }));
    expect(error._tag).toBe("InvalidArgument");
    if (error._tag === "InvalidArgument") {
      expect(error.fieldViolations.map((v) => v.field).sort()).toEqual(["page.page_size", "page.page_token"]);
    }
  });

  test("an unknown symbol is UnknownSymbol with the symbol", async () => {
    const symbol = await run(
      client.getSecurity({ symbol: "NOPE" }).pipe(
        Effect.map(() => "found"),
        Effect.catchTag("UnknownSymbol", (e) => Effect.succeed(e.symbol)),
      ),
    );
    expect(symbol).toBe("NOPE");
  });

  test("upsert creates, then replaces, and says which", async () => {
    const security = { symbol: "TEST.A", name: "Test A", sector: Sector.UTILITIES, currency: "EUR", active: true };
    const first = await run(client.upsertSecurity({ security }));
    expect(first.created).toBe(true);
    const second = await run(client.upsertSecurity({ security: { ...security, name: "Test A2", active: false } }));
    expect(second.created).toBe(false);
    const { security: stored } = await run(client.getSecurity({ symbol: "TEST.A" }));
    expect(stored).toMatchObject({ name: "Test A2", active: false, currency: "EUR" });
  });

  test("an invalid upsert names every bad field and writes nothing", async () => {
    const error = await failureOf(
      client.upsertSecurity({ security: { symbol: "BAD SYMBOL", name: "", sector: Sector.UNSPECIFIED, currency: "EURO" } }),
    );
    expect(error._tag).toBe("InvalidArgument");
    if (error._tag === "InvalidArgument") {
      expect(error.fieldViolations.map((v) => v.field)).toEqual([
        "security.symbol",
        "security.name",
        "security.sector",
        "security.currency",
      ]);
    }
    const lookup = await failureOf(client.getSecurity({ symbol: "BAD" }));
    expect(lookup._tag).toBe("UnknownSymbol");
  });
});
