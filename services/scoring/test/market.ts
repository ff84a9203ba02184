/**
 * The market service, in-process, as scoring's tests run it: its published
 * binding and Layer (`@meridian/market`), on the test's database, seeded with the shipped dataset.
 */
import { layerMarket, marketService } from "@meridian/market";
import type { LocalService } from "./in-process.js";

/** Market served in this process, seeded; `wrap` puts faults or probes around its binding. */
export function localMarket(wrap?: LocalService["wrap"]): LocalService {
  return {
    binding: marketService,
    layer: (database) => layerMarket({ ...database, seed: "auto" }),
    ...(wrap === undefined ? {} : { wrap }),
  };
}
