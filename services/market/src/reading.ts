/**
 * A regime reading as the service keeps it, and as the API and events carry it (RegimeReading).
 */
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { RegimeIndicatorsSchema, RegimeReadingSchema, type Regime, type RegimeReading } from "@meridian/sdk/market";
import type { Indicators } from "./domain/indicators.js";

/** One classification of the market, as of the day of the latest index bar. */
export interface Reading {
  readonly regime: Regime;
  readonly confidence: number;
  readonly indicators: Indicators;
  /** "YYYY-MM-DD" */
  readonly asOf: string;
  readonly computedAt: Date;
}

/** The reading as the API carries it. */
export function toReadingMessage(reading: Reading): RegimeReading {
  return create(RegimeReadingSchema, {
    regime: reading.regime,
    confidence: reading.confidence,
    indicators: create(RegimeIndicatorsSchema, reading.indicators),
    asOf: reading.asOf,
    computedAt: timestampFromDate(reading.computedAt),
  });
}

/** The reading a message carries (the cache holds messages). */
export function fromReadingMessage(message: RegimeReading): Reading {
  const i = message.indicators;
  return {
    regime: message.regime,
    confidence: message.confidence,
    indicators: {
      volatility20d: i?.volatility20d ?? 0,
      volatility60d: i?.volatility60d ?? 0,
      trend50200: i?.trend50200 ?? 0,
      drawdownFromPeak: i?.drawdownFromPeak ?? 0,
      breadth: i?.breadth ?? 0,
      return60d: i?.return60d ?? 0,
    },
    asOf: message.asOf,
    computedAt: message.computedAt === undefined ? new Date(0) : timestampDate(message.computedAt),
  };
}
