/**
 * An account's holdings valued at prices: market values, unrealised P&L and weights. Pure.
 */
import { averageCostMicros, type Holding } from "./holdings.js";
import { amountMinor } from "./money.js";

/** The price a holding is valued at, and the day it is from. */
export interface Price {
  readonly priceMicros: bigint;
  /** "YYYY-MM-DD" */
  readonly date: string;
}

/** One valued position. */
export interface ValuedPosition {
  readonly symbol: string;
  readonly quantity: bigint;
  readonly averageCostMicros: bigint;
  readonly lastPriceMicros: bigint;
  /** quantity × price, minor units, rounded half to even. */
  readonly marketValueMinor: bigint;
  readonly costBasisMinor: bigint;
  /** market value − cost basis. */
  readonly unrealizedPnlMinor: bigint;
  /** market value / total value, in [0, 1]; 0 when the total is not positive. */
  readonly weight: number;
}

/** The holdings valued. */
export interface Valuation {
  /** Ordered by symbol. */
  readonly positions: ReadonlyArray<ValuedPosition>;
  readonly positionsValueMinor: bigint;
  /** cash + positions value. */
  readonly totalValueMinor: bigint;
  readonly unrealizedPnlMinor: bigint;
  /** The oldest price date used ("" with no positions): the portfolio is valued as of then. */
  readonly valuedAsOf: string;
}

/** Values `holdings` at `prices` (by symbol; every held symbol must have one) with `cashMinor` beside them. */
export function valueHoldings(
  cashMinor: bigint,
  holdings: ReadonlyArray<Holding>,
  prices: ReadonlyMap<string, Price>,
): Valuation {
  const rows = [...holdings]
    .sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0))
    .map((holding) => {
      const price = prices.get(holding.symbol);
      if (price === undefined) throw new RangeError(`no price for ${holding.symbol}`);
      const marketValueMinor = amountMinor(holding.quantity, price.priceMicros);
      return { holding, price, marketValueMinor };
    });
  const positionsValueMinor = rows.reduce((sum, r) => sum + r.marketValueMinor, 0n);
  const totalValueMinor = cashMinor + positionsValueMinor;
  const positions = rows.map(({ holding, price, marketValueMinor }) => ({
    symbol: holding.symbol,
    quantity: holding.quantity,
    averageCostMicros: averageCostMicros(holding),
    lastPriceMicros: price.priceMicros,
    marketValueMinor,
    costBasisMinor: holding.costBasisMinor,
    unrealizedPnlMinor: marketValueMinor - holding.costBasisMinor,
    weight: weightOf(marketValueMinor, totalValueMinor),
  }));
  return {
    positions,
    positionsValueMinor,
    totalValueMinor,
    unrealizedPnlMinor: positions.reduce((sum, p) => sum + p.unrealizedPnlMinor, 0n),
    valuedAsOf: rows.reduce((oldest, r) => (oldest === "" || r.price.date < oldest ? r.price.date : oldest), ""),
  };
}

// A ratio of two integers as a double: only weights are floating point, never amounts.
function weightOf(part: bigint, total: bigint): number {
  if (total <= 0n || part <= 0n) return 0;
  return Math.min(1, Number(part) / Number(total));
}
