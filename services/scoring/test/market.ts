/**
 * The market service, in-process, as scoring's tests run it: its published
 * binding and Layer (`@meridian/market`), on the test's database, seeded with the shipped dataset (or empty).
 */
import { layerMarket, marketService } from "@meridian/market";
import type { LocalService } from "./in-process.js";

/** Market served in this process, seeded unless `seed` is "off"; `wrap` puts faults or probes around its binding. */
export function localMarket(wrap?: LocalService["wrap"], seed: "auto" | "off" = "auto"): LocalService {
  return {
    binding: marketService,
    layer: (database) => layerMarket({ ...database, seed }),
    ...(wrap === undefined ? {} : { wrap }),
  };
}
