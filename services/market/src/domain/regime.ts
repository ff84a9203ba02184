/**
 * The market regime classifier: indicators → one of five regimes and a confidence, by a fixed
 * table of rules (README "Regime rules"). Pure and deterministic: the same indicators always
 * give the same reading.
 *
 * Each rule is conditions on indicators. A condition's margin is how far the indicator is past
 * its threshold, in units of the condition's scale (positive: satisfied). A rule's margin is the
 * smallest of its conditions' margins (all must hold) or, for a rule with alternatives, the
 * largest of the alternatives' margins. The first rule (in table order) with a margin >= 0 is
 * the regime; sideways is what remains when none holds.
 *
 * Confidence = 0.5 + 0.5 × clamp(margin, 0, 1): 0.5 on a threshold, 1 one scale or more past
 * every threshold. For sideways the margin is the distance to the nearest other rule.
 *
 * Hysteresis: given the previous regime, a reading near a threshold does not flap. The
 * previous regime is kept unless another is clearly in (margin >= `hysteresisBand`) or the
 * previous is clearly out (its margin < -`hysteresisBand`).
 */
import { Regime } from "@meridian/sdk/market";
import type { Indicators } from "./indicators.js";

/** One threshold on one indicator. */
export interface Condition {
  readonly indicator: keyof Indicators;
  readonly op: ">=" | "<=";
  readonly threshold: number;
  /** The distance past the threshold that counts as fully clear. */
  readonly scale: number;
}

/** A regime's rule: any one of the alternatives, each a set of conditions that must all hold. */
export interface Rule {
  readonly regime: Regime;
  readonly anyOf: ReadonlyArray<ReadonlyArray<Condition>>;
}

const at = (indicator: keyof Indicators, op: ">=" | "<=", threshold: number, scale: number): Condition => ({
  indicator,
  op,
  threshold,
  scale,
});

/** The rules, in the order they are tried. */
export const regimeRules: ReadonlyArray<Rule> = [
  {
    regime: Regime.CRISIS,
    anyOf: [
      [at("volatility20d", ">=", 0.45, 0.15)],
      [at("drawdownFromPeak", ">=", 0.2, 0.1), at("volatility20d", ">=", 0.3, 0.1)],
    ],
  },
  {
    regime: Regime.BEAR,
    anyOf: [
      [at("drawdownFromPeak", ">=", 0.15, 0.1)],
      [at("trend50200", "<=", -0.02, 0.03), at("return60d", "<=", -0.05, 0.05)],
    ],
  },
  {
    regime: Regime.STRONG_BULL,
    anyOf: [
      [
        at("trend50200", ">=", 0.05, 0.03),
        at("return60d", ">=", 0.06, 0.05),
        at("breadth", ">=", 0.65, 0.2),
        at("drawdownFromPeak", "<=", 0.05, 0.05),
        at("volatility20d", "<=", 0.25, 0.1),
      ],
    ],
  },
  {
    regime: Regime.NORMAL_BULL,
    anyOf: [
      [
        at("trend50200", ">=", 0.01, 0.03),
        at("return60d", ">=", 0, 0.05),
        at("breadth", ">=", 0.45, 0.2),
        at("drawdownFromPeak", "<=", 0.1, 0.05),
      ],
    ],
  },
];

/** A regime and how clearly the indicators point at it. */
export interface Classification {
  readonly regime: Regime;
  /** In [0, 1]. */
  readonly confidence: number;
}

/** How far (in scale units) a rule must be in to displace the previous regime, or out to lose it. */
export const hysteresisBand = 0.2;

/**
 * Classifies indicators by {@link regimeRules}; with `previous` (the last recorded regime), keeps
 * it unless the indicators have clearly left it (see hysteresis above).
 */
export function classify(indicators: Indicators, previous?: Regime): Classification {
  const margins = regimeRules.map((rule) => ({ regime: rule.regime, margin: ruleMargin(rule, indicators) }));
  const marginOf = (regime: Regime) =>
    regime === Regime.SIDEWAYS ? -Math.max(...margins.map((m) => m.margin)) : margins.find((m) => m.regime === regime)!.margin;
  const matched = margins.find((m) => m.margin >= 0);
  const plain = matched ?? { regime: Regime.SIDEWAYS, margin: marginOf(Regime.SIDEWAYS) };
  if (previous !== undefined && previous !== Regime.UNSPECIFIED && previous !== plain.regime) {
    const kept = marginOf(previous);
    if (kept >= -hysteresisBand && plain.margin < hysteresisBand) return { regime: previous, confidence: confidenceOf(kept) };
  }
  return { regime: plain.regime, confidence: confidenceOf(plain.margin) };
}

/** How far past (positive) or short of (negative) its thresholds a rule is. */
export function ruleMargin(rule: Rule, indicators: Indicators): number {
  return Math.max(...rule.anyOf.map((all) => Math.min(...all.map((c) => conditionMargin(c, indicators)))));
}

function conditionMargin(condition: Condition, indicators: Indicators): number {
  const value = indicators[condition.indicator];
  const past = condition.op === ">=" ? value - condition.threshold : condition.threshold - value;
  return past / condition.scale;
}

function confidenceOf(margin: number): number {
  return 0.5 + 0.5 * Math.min(1, Math.max(0, margin));
}

/** The regime's name as the issue and README write it. */
export function regimeName(regime: Regime): string {
  return Regime[regime]?.toLowerCase() ?? "unspecified";
}
