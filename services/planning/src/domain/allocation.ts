/**
 * How much of an account is invested, and in how many names, by its risk
 * profile and the market regime: the one table of the planning rules.
 *
 * | regime \ profile | conservative   | balanced       | aggressive     |
 * |------------------|----------------|----------------|----------------|
 * | strong bull      | 8 names, 10 %  | 10 names, 5 %  | 12 names, 2 %  |
 * | normal bull      | 8 names, 15 %  | 10 names, 8 %  | 12 names, 5 %  |
 * | sideways         | 6 names, 25 %  | 8 names, 15 %  | 10 names, 10 % |
 * | bear             | 5 names, 40 %  | 6 names, 30 %  | 8 names, 20 %  |
 * | crisis           | 3 names, 70 %  | 4 names, 55 %  | 5 names, 40 %  |
 *
 * (the percentage is the cash floor: the share of total value kept in cash).
 * An unknown regime plans as bear (caution when the market cannot be read); an
 * unknown risk profile plans as conservative.
 */
import { Regime } from "@meridian/sdk/market";
import { RiskProfile } from "@meridian/sdk/portfolio";

/** The shape of a portfolio for one profile in one regime. */
export interface Allocation {
  /** How many names the plan holds at most (the top-scored ones). */
  readonly holdings: number;
  /** The share of total value kept in cash, in basis points (10,000 = all of it). */
  readonly cashFloorBps: number;
}

type Row = Readonly<Record<"conservative" | "balanced" | "aggressive", Allocation>>;

const row = (conservative: [number, number], balanced: [number, number], aggressive: [number, number]): Row => ({
  conservative: { holdings: conservative[0], cashFloorBps: conservative[1] },
  balanced: { holdings: balanced[0], cashFloorBps: balanced[1] },
  aggressive: { holdings: aggressive[0], cashFloorBps: aggressive[1] },
});

/** The table above, by regime. */
export const allocationTable: Readonly<Record<Exclude<Regime, Regime.UNSPECIFIED>, Row>> = {
  [Regime.STRONG_BULL]: row([8, 1000], [10, 500], [12, 200]),
  [Regime.NORMAL_BULL]: row([8, 1500], [10, 800], [12, 500]),
  [Regime.SIDEWAYS]: row([6, 2500], [8, 1500], [10, 1000]),
  [Regime.BEAR]: row([5, 4000], [6, 3000], [8, 2000]),
  [Regime.CRISIS]: row([3, 7000], [4, 5500], [5, 4000]),
};

/** The allocation for a profile in a regime (unknown regime → bear, unknown profile → conservative). */
export function allocationFor(profile: RiskProfile, regime: Regime): Allocation {
  const byProfile = allocationTable[regime === Regime.UNSPECIFIED || !(regime in allocationTable) ? Regime.BEAR : (regime as Exclude<Regime, Regime.UNSPECIFIED>)];
  switch (profile) {
    case RiskProfile.AGGRESSIVE:
      return byProfile.aggressive;
    case RiskProfile.BALANCED:
      return byProfile.balanced;
    default:
      return byProfile.conservative;
  }
}
