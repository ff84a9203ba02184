/**
 * The regime, day by day, over a stretch of history: what the classifier says on each day of
 * the index from the 200th on (each day given the day before's regime, as the live service
 * gives the last recorded one), kept only where it changes. The seeding backfills the
 * regime history from it, so GetRegimeHistory tells the dataset's story from the start.
 */
import type { Regime } from "@meridian/sdk/market";
import { breadthWindow, indicatorsOf, minIndexCloses, neutralBreadth, type Indicators } from "./indicators.js";
import { classify } from "./regime.js";

/** A classification as of one day. */
export interface DatedReading {
  readonly asOf: string;
  readonly regime: Regime;
  readonly confidence: number;
  readonly indicators: Indicators;
}

/** A series of closes by date, oldest first. */
export interface DatedCloses {
  readonly dates: ReadonlyArray<string>;
  readonly closes: ReadonlyArray<number>;
}

/** Each day's reading where it differs from the day before's (the first reading included). */
export function regimeChanges(index: DatedCloses, constituents: ReadonlyArray<DatedCloses>): DatedReading[] {
  const changes: DatedReading[] = [];
  // Each constituent's position (how many of its closes fall on or before the day) and the sum
  // of its last 200 closes, kept as the days go by.
  const cursors = constituents.map(() => 0);
  const sums = constituents.map(() => 0);
  let peak = -Infinity;
  for (let t = 0; t < index.dates.length; t++) {
    const day = index.dates[t]!;
    peak = Math.max(peak, index.closes[t]!);
    let counted = 0;
    let above = 0;
    constituents.forEach((c, i) => {
      while (cursors[i]! < c.dates.length && c.dates[cursors[i]!]! <= day) {
        const at = cursors[i]!;
        sums[i]! += c.closes[at]! - (at >= breadthWindow ? c.closes[at - breadthWindow]! : 0);
        cursors[i] = at + 1;
      }
      if (cursors[i]! < breadthWindow) return;
      counted += 1;
      if (c.closes[cursors[i]! - 1]! > sums[i]! / breadthWindow) above += 1;
    });
    if (t + 1 < minIndexCloses) continue;
    const breadth = counted === 0 ? neutralBreadth : above / counted;
    const indicators = indicatorsOf(index.closes.slice(t + 1 - minIndexCloses, t + 1), breadth, peak);
    const { regime, confidence } = classify(indicators, changes.at(-1)?.regime);
    if (changes.at(-1)?.regime !== regime) changes.push({ asOf: day, regime, confidence, indicators });
  }
  return changes;
}
