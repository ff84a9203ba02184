/**
 * Plan construction against plans computed by hand. Prices are in micros
 * ($100 = 100_000_000), cash in cents; "total" is cash + holdings at their quotes.
 */
import { describe, expect, test } from "bun:test";
import { Regime } from "@meridian/sdk/market";
import { RiskProfile } from "@meridian/sdk/portfolio";
import { OrderSide } from "@meridian/sdk/trading";
import { buildPlan, defaultRules, type Candidate, type Holding, type PlanInput, type TradeLine } from "./plan.js";

const usd = (dollars: number) => BigInt(Math.round(dollars * 1_000_000)); // price in micros

/** Twelve candidates, best first: A $100, B $250, C $33.33, D..L $100. */
const candidates: Candidate[] = [
  { symbol: "A", score: 90, priceMicros: usd(100) },
  { symbol: "B", score: 88, priceMicros: usd(250) },
  { symbol: "C", score: 86, priceMicros: usd(33.33) },
  ...["D", "E", "F", "G", "H", "I", "J", "K", "L"].map((symbol, i) => ({ symbol, score: 84 - 2 * i, priceMicros: usd(100) })),
];

const base: PlanInput = {
  regime: Regime.NORMAL_BULL,
  riskProfile: RiskProfile.BALANCED,
  cashMinor: 10_000_000n, // $100,000.00
  holdings: [],
  candidates,
  rules: defaultRules,
};

const held = (symbol: string, quantity: bigint, dollars = 100): Holding => ({ symbol, quantity, priceMicros: usd(dollars) });
const brief = (trades: ReadonlyArray<TradeLine>) =>
  trades.map((t) => `${t.side === OrderSide.BUY ? "buy" : "sell"} ${t.quantity} ${t.symbol} = ${t.estimatedAmountMinor}`);

describe("plan construction", () => {
  test("a fresh balanced account in a normal bull buys the top 10 equally, keeping the 8% floor", () => {
    // 10 names, floor 8%: each name 10,000,000 × 92% / 10 = 920,000 cents.
    // A: 920,000 / $100 = 92 shares; B: 920,000 / $250 = 36.8 → 36 = 900,000;
    // C: 920,000 / $33.33 = 276.02 → 276 = 919,908; D..J: 92 shares = 920,000 each. K and L are not chosen.
    const plan = buildPlan(base);
    expect(plan.allocation).toEqual({ holdings: 10, cashFloorBps: 800 });
    expect(plan.totalValueMinor).toBe(10_000_000n);
    expect(plan.cashFloorMinor).toBe(800_000n);
    expect(brief(plan.trades)).toEqual([
      "buy 92 A = 920000",
      "buy 36 B = 900000",
      "buy 276 C = 919908",
      ...["D", "E", "F", "G", "H", "I", "J"].map((s) => `buy 92 ${s} = 920000`),
    ]);
    // 10,000,000 − (8 × 920,000 + 900,000 + 919,908) = 820,092 ≥ the 800,000 floor.
    expect(plan.estimatedCashAfterMinor).toBe(820_092n);
    expect(plan.targets.map((t) => t.symbol)).toEqual(["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"]);
    expect(plan.targets[0]!.targetWeight).toBeCloseTo(0.092, 12);
    expect(plan.targets.every((t) => t.currentWeight === 0)).toBe(true);
  });

  test("crisis keeps much more cash for the same fresh account: 4 names, 55% floor", () => {
    // Each name 10,000,000 × 45% / 4 = 1,125,000: A 112 (1,120,000), B 45 (1,125,000),
    // C 337 × $33.33 = 1,123,221, D 112 (1,120,000); spent 4,488,221, cash after 5,511,779.
    const plan = buildPlan({ ...base, regime: Regime.CRISIS });
    expect(plan.cashFloorMinor).toBe(5_500_000n);
    expect(brief(plan.trades)).toEqual(["buy 112 A = 1120000", "buy 45 B = 1125000", "buy 337 C = 1123221", "buy 112 D = 1120000"]);
    expect(plan.estimatedCashAfterMinor).toBe(5_511_779n);
    expect(plan.estimatedCashAfterMinor).toBeGreaterThan(buildPlan(base).estimatedCashAfterMinor * 6n);
  });

  test("crisis raises cash from the invested bull portfolio: exits sold, the four kept topped up within the floor", () => {
    // Holding the first test's result: total 820,092 + 9,179,908 = 10,000,000; floor 5,500,000.
    // E..J are no longer targets: 6 × 92 × $100 = 5,520,000 of sells.
    // Budget: 820,092 + 5,520,000 − 5,500,000 = 840,092. Tops up (targets 1,125,000 each, gaps ≥ 1% of total):
    // A 92 → 112 (+20 = 200,000), B 36 → 45 (+9 = 225,000), C 276 → 337 (+61 = 203,313), D 92 → 112 (+20 = 200,000).
    // Spent 828,313 ≤ 840,092; cash after 820,092 + 5,520,000 − 828,313 = 5,511,779.
    const holdings = [
      held("A", 92n),
      held("B", 36n, 250),
      held("C", 276n, 33.33),
      ...["D", "E", "F", "G", "H", "I", "J"].map((s) => held(s, 92n)),
    ];
    const plan = buildPlan({ ...base, regime: Regime.CRISIS, cashMinor: 820_092n, holdings });
    expect(plan.totalValueMinor).toBe(10_000_000n);
    expect(brief(plan.trades)).toEqual([
      ...["E", "F", "G", "H", "I", "J"].map((s) => `sell 92 ${s} = 920000`),
      "buy 20 A = 200000",
      "buy 9 B = 225000",
      "buy 61 C = 203313",
      "buy 20 D = 200000",
    ]);
    expect(plan.estimatedCashAfterMinor).toBe(5_511_779n);
    expect(plan.estimatedCashAfterMinor).toBeGreaterThanOrEqual(plan.cashFloorMinor);
    // Exits are listed as targets of weight 0, with their current weight (920,000 / 10,000,000).
    const exit = plan.targets.find((t) => t.symbol === "E")!;
    expect(exit.targetWeight).toBe(0);
    expect(exit.currentWeight).toBeCloseTo(0.092, 12);
  });

  test("re-planning the plan's own result trades nothing", () => {
    const holdings = [
      held("A", 92n),
      held("B", 36n, 250),
      held("C", 276n, 33.33),
      ...["D", "E", "F", "G", "H", "I", "J"].map((s) => held(s, 92n)),
    ];
    expect(buildPlan({ ...base, cashMinor: 820_092n, holdings }).trades).toEqual([]);
  });

  test("holdings inside the 1-point band produce no trade; just outside, they do", () => {
    // Total 10,000,000 (cash 9,125,000 + B 35 × $250 = 875,000); band = 1% of total = 100,000.
    // B's target is 920,000: gap 45,000 < 100,000 → no trade, though 36 shares would be closer.
    const inside = buildPlan({ ...base, cashMinor: 9_125_000n, holdings: [held("B", 35n, 250)] });
    expect(inside.trades.find((t) => t.symbol === "B")).toBeUndefined();
    // B 32 × $250 = 800,000 (cash 9,200,000): gap 120,000 ≥ 100,000 → buy 36 − 32 = 4 (100,000).
    const outside = buildPlan({ ...base, cashMinor: 9_200_000n, holdings: [held("B", 32n, 250)] });
    expect(brief(outside.trades.filter((t) => t.symbol === "B"))).toEqual(["buy 4 B = 100000"]);
    // Overweight inside the band is left alone too: A 101 × $100 = 1,010,000, 90,000 over.
    const over = buildPlan({ ...base, cashMinor: 8_990_000n, holdings: [held("A", 101n)] });
    expect(over.trades.find((t) => t.symbol === "A")).toBeUndefined();
    // 150 × $100 = 1,500,000, 580,000 over: trim to 92 → sell 58 (580,000).
    const trim = buildPlan({ ...base, cashMinor: 8_500_000n, holdings: [held("A", 150n)] });
    expect(brief(trim.trades.filter((t) => t.symbol === "A"))).toEqual(["sell 58 A = 580000"]);
    expect(trim.trades[0]!.side).toBe(OrderSide.SELL);
  });

  test("a position no longer among the targets is sold whole, however small", () => {
    // Z is not ranked at all, K is ranked 11th (beyond the 10 names): both are sold completely,
    // Z although its 10 × $5 = 5,000 (0.05% of total) is inside the band and below the 10.00 minimum.
    const plan = buildPlan({
      ...base,
      cashMinor: 9_080_000n,
      holdings: [held("Z", 10n, 5), held("K", 9n)],
    });
    expect(brief(plan.trades.filter((t) => t.side === OrderSide.SELL))).toEqual(["sell 9 K = 90000", "sell 10 Z = 5000"]);
    expect(plan.trades.findIndex((t) => t.side === OrderSide.BUY)).toBe(2); // sells first
    expect(plan.targets.find((t) => t.symbol === "Z")).toMatchObject({ targetWeight: 0, score: 0 });
    expect(plan.targets.find((t) => t.symbol === "K")).toMatchObject({ targetWeight: 0, score: 70 });
  });

  test("nothing is bought beyond cash after sells minus the floor", () => {
    // A..I held at 101 × $100 = 1,010,000 each (90,000 over target, inside the band): 9,090,000.
    // Cash 910,000; total 10,000,000; floor 800,000. J wants 92 shares (920,000), but only
    // 910,000 − 800,000 = 110,000 may be spent: 11 shares.
    const holdings = ["A", "B", "C", "D", "E", "F", "G", "H", "I"].map((s) => held(s, 101n));
    const flat = candidates.map((c) => ({ ...c, priceMicros: usd(100) }));
    const input = { ...base, candidates: flat, cashMinor: 910_000n, holdings };
    const plan = buildPlan(input);
    expect(brief(plan.trades)).toEqual(["buy 11 J = 110000"]);
    expect(plan.estimatedCashAfterMinor).toBe(800_000n);
    // With lots of 10 shares: 1 lot (100,000), never 11 shares.
    expect(brief(buildPlan({ ...input, rules: { ...defaultRules, lotSize: 10n } }).trades)).toEqual(["buy 10 J = 100000"]);
    // Cut below a 200,000 minimum, the buy is not worth placing.
    expect(buildPlan({ ...input, rules: { ...defaultRules, minTradeMinor: 200_000n } }).trades).toEqual([]);
  });

  test("the total of the buys never exceeds cash + sells − floor, over many random accounts", () => {
    let seed = 7;
    const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    for (let run = 0; run < 300; run++) {
      const holdings = candidates
        .filter(() => random() < 0.4)
        .map((c) => ({ symbol: c.symbol, quantity: BigInt(Math.floor(random() * 400)), priceMicros: c.priceMicros }));
      const input: PlanInput = {
        ...base,
        regime: [Regime.CRISIS, Regime.BEAR, Regime.SIDEWAYS, Regime.NORMAL_BULL, Regime.STRONG_BULL][run % 5]!,
        riskProfile: [RiskProfile.CONSERVATIVE, RiskProfile.BALANCED, RiskProfile.AGGRESSIVE][run % 3]!,
        cashMinor: BigInt(Math.floor(random() * 5_000_000)),
        holdings,
        rules: { ...defaultRules, lotSize: BigInt(1 + (run % 4) * 5) },
      };
      const plan = buildPlan(input);
      const sells = plan.trades.filter((t) => t.side === OrderSide.SELL).reduce((s, t) => s + t.estimatedAmountMinor, 0n);
      const buys = plan.trades.filter((t) => t.side === OrderSide.BUY);
      const spent = buys.reduce((s, t) => s + t.estimatedAmountMinor, 0n);
      if (buys.length > 0) expect(spent).toBeLessThanOrEqual(input.cashMinor + sells - plan.cashFloorMinor);
      for (const t of plan.trades) {
        expect(t.quantity).toBeGreaterThan(0n);
        const isExit = t.side === OrderSide.SELL && holdings.find((h) => h.symbol === t.symbol)?.quantity === t.quantity;
        if (!isExit) expect(t.quantity % input.rules.lotSize).toBe(0n);
      }
      // Sells come before buys.
      const firstBuy = plan.trades.findIndex((t) => t.side === OrderSide.BUY);
      if (firstBuy >= 0) expect(plan.trades.slice(firstBuy).every((t) => t.side === OrderSide.BUY)).toBe(true);
    }
  });

  test("fewer candidates than names: the rest stays in cash; an empty account plans nothing", () => {
    // Two candidates, 10 names: each still only 920,000.
    const plan = buildPlan({ ...base, candidates: candidates.slice(0, 2) });
    expect(brief(plan.trades)).toEqual(["buy 92 A = 920000", "buy 36 B = 900000"]);
    expect(plan.estimatedCashAfterMinor).toBe(8_180_000n);
    const empty = buildPlan({ ...base, cashMinor: 0n });
    expect(empty.trades).toEqual([]);
    expect(empty.totalValueMinor).toBe(0n);
  });

  test("a security too dear for one lot of its target is not bought", () => {
    // Aggressive, strong bull: 12 names, 2% floor; each 1,000,000 × 98% / 12 = 81,666 cents, less than one $3,000 share.
    const plan = buildPlan({
      ...base,
      riskProfile: RiskProfile.AGGRESSIVE,
      regime: Regime.STRONG_BULL,
      cashMinor: 1_000_000n,
      candidates: [{ symbol: "DEAR", score: 99, priceMicros: usd(3000) }, ...candidates],
    });
    expect(plan.trades.find((t) => t.symbol === "DEAR")).toBeUndefined();
    expect(plan.trades.filter((t) => t.side === OrderSide.BUY).length).toBe(11);
  });
});
