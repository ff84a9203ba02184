/**
 * Simulated execution: the price a market order fills at, and whether (and at
 * what price) a day's bar crosses a resting limit order.
 */
import { OrderSide } from "@meridian/sdk/trading";
import { bpsPerWhole } from "./money.js";

/**
 * A market order's fill price: the latest quote moved against the trader by `slippageBps`
 * (a buy pays more, a sell gets less), rounded against the trader to whole micros.
 */
export function marketFillPriceMicros(quoteMicros: bigint, side: OrderSide, slippageBps: number): bigint {
  const bps = BigInt(slippageBps);
  if (side === OrderSide.BUY) return ceilDiv(quoteMicros * (bpsPerWhole + bps), bpsPerWhole);
  return (quoteMicros * (bpsPerWhole - bps)) / bpsPerWhole;
}

/** One day's prices, in micros. */
export interface BarPrices {
  readonly openMicros: bigint;
  readonly highMicros: bigint;
  readonly lowMicros: bigint;
}

/**
 * The price a limit order fills at on this bar, or undefined when the bar does not cross it:
 * a buy fills if low ≤ limit, at min(limit, open) (a gap down fills at the open); a sell fills if
 * high ≥ limit, at max(limit, open).
 */
export function limitFillPriceMicros(bar: BarPrices, side: OrderSide, limitMicros: bigint): bigint | undefined {
  if (side === OrderSide.BUY) {
    if (bar.lowMicros > limitMicros) return undefined;
    return bar.openMicros < limitMicros ? bar.openMicros : limitMicros;
  }
  if (bar.highMicros < limitMicros) return undefined;
  return bar.openMicros > limitMicros ? bar.openMicros : limitMicros;
}

function ceilDiv(numerator: bigint, denominator: bigint): bigint {
  return (numerator + denominator - 1n) / denominator;
}
