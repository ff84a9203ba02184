/**
 * The market service and the universe service it calls, both in this process: the market's
 * handlers behind the in-process transport, universe as a local service (as the all-in-one
 * launcher runs them), on the given database and on Redis or the in-process cache and bus.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Effect, Layer, ManagedRuntime } from "effect";
import { inProcess, layerBacking, layerHealth, layerLifecycle } from "@meridian/kit";
import { layerLocalServices } from "@meridian/kit/client";
import { createEffectClient, type EffectClient } from "@meridian/sdk";
import { Market } from "@meridian/sdk/market";
import { layerUniverse, universeService } from "@meridian/universe";
import { layerMarket, marketService } from "../src/service.js";

/** A running in-process market: its typed client and the runtime holding its resources. */
export interface InProcessMarket {
  readonly client: EffectClient<typeof Market>;
  readonly runtime: ManagedRuntime.ManagedRuntime<any, any>;
  readonly dispose: () => Promise<void>;
}

/** Starts market (seeded) and universe; PGlite in a temporary folder unless `databaseUrl` is given. */
export async function startInProcessMarket(
  options: { readonly databaseUrl?: string; readonly redisUrl?: string; readonly keyPrefix?: string } = {},
): Promise<InProcessMarket> {
  const dataDir = mkdtempSync(join(tmpdir(), "market-in-process-"));
  const database = { databaseUrl: options.databaseUrl, dataDir };
  const universe = layerLocalServices([universeService]).pipe(Layer.provide(layerUniverse(database)));
  const backing = layerBacking({
    redisUrl: options.redisUrl,
    source: "market",
    events: { keyPrefix: options.keyPrefix },
    cache: { keyPrefix: `${options.keyPrefix ?? ""}cache:` },
  });
  const layer = layerMarket({ ...database, seed: "auto" }).pipe(
    Layer.provide(universe),
    Layer.provideMerge(backing),
    Layer.provideMerge(layerHealth),
    Layer.provide(layerLifecycle),
  );
  const runtime = ManagedRuntime.make(layer);
  const transport = await runtime.runPromise(inProcess([marketService]));
  return {
    client: createEffectClient(Market, { transport }),
    runtime,
    dispose: async () => {
      await runtime.dispose();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Runs a client call. */
export const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect);

/** The error a client call fails with. */
export const failureOf = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(Effect.flip(effect));
