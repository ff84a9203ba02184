/**
 * What scoring reads from the universe service, through its SDK client: the
 * active securities, every page of them.
 */
import { Effect } from "effect";
import type { Unavailable } from "@meridian/kit";
import { ServiceClient } from "@meridian/kit/client";
import type { EffectClient } from "@meridian/sdk";
import { Universe, type Sector, type Security } from "@meridian/sdk/universe";
import { downstreamFailure } from "./downstream.js";

/** The universe client this service calls through. */
export const UniverseClient = ServiceClient(Universe);
export type UniverseClient = EffectClient<typeof Universe>;

/** Securities asked for per ListSecurities page: the most universe serves. */
export const listPageSize = 500;

/** Every active security (of one sector, when given), in symbol order, across all pages. */
export function activeSecurities(
  sector: Sector | undefined,
  pageSize = listPageSize,
): Effect.Effect<ReadonlyArray<Security>, Unavailable, UniverseClient> {
  return Effect.gen(function* () {
    const universe = yield* Effect.service(UniverseClient);
    const securities: Security[] = [];
    let pageToken = "";
    do {
      const page = yield* universe
        .listSecurities({ active: true, ...(sector === undefined ? {} : { sector }), page: { pageSize, pageToken } })
        .pipe(Effect.catch((error) => downstreamFailure("universe", "ListSecurities", error)));
      securities.push(...page.securities);
      pageToken = page.page?.nextPageToken ?? "";
    } while (pageToken !== "");
    return securities;
  });
}
