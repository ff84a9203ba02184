/**
 * Plans in PostgreSQL: the SQL of the planning service. A plan is written
 * once, with its targets and trades, in one transaction; afterwards only the
 * order each trade became and the plan's execution are recorded.
 */
import { Context, Effect, Layer } from "effect";
import type postgres from "postgres";
import type { Unavailable } from "@meridian/kit";
import { query, type Sql } from "@meridian/kit/postgres";
import type { Regime } from "@meridian/sdk/market";
import { PlanStatus } from "@meridian/sdk/planning";
import type { RiskProfile } from "@meridian/sdk/portfolio";
import type { PlanProposal, TradeLine } from "./domain/plan.js";

/** A planned trade as stored: the line, and the order trading made of it once placed. */
export interface StoredTrade extends TradeLine {
  readonly orderId: string | undefined;
}

/** A stored plan. */
export interface PlanRecord extends Omit<PlanProposal, "trades"> {
  readonly planId: string;
  readonly accountId: string;
  readonly status: PlanStatus;
  readonly regime: Regime;
  readonly riskProfile: RiskProfile;
  readonly currency: string;
  /** Sells first, then buys; the index is the trade's place in this list. */
  readonly trades: ReadonlyArray<StoredTrade>;
  readonly createdAt: Date;
  readonly executedAt: Date | undefined;
  /** The account's fills the portfolio had applied when the plan was proposed. */
  readonly fillsAppliedBefore: bigint;
  /** The fills the plan's orders made, once it has placed any (executed, or stopped half-way). */
  readonly fillCount: bigint | undefined;
}

/** What the handlers need from storage. */
export interface PlanStoreShape {
  /** Writes a new plan, its targets and its trades, atomically. */
  readonly insert: (plan: PlanRecord) => Effect.Effect<void, Unavailable>;
  readonly get: (planId: string) => Effect.Effect<PlanRecord | undefined, Unavailable>;
  /** Records the order a trade became; the first order recorded for a trade stays. */
  readonly recordOrder: (planId: string, tradeIndex: number, orderId: string) => Effect.Effect<void, Unavailable>;
  /** Marks the plan executed (a second call keeps the first time) with its orders' fill count; returns when it was. */
  readonly markExecuted: (planId: string, fillCount: bigint) => Effect.Effect<Date, Unavailable>;
  /** Records the fills the plan's orders made so far (never lowers the count): an execution that stopped half-way. */
  readonly recordFills: (planId: string, fillCount: bigint) => Effect.Effect<void, Unavailable>;
  /**
   * The fills the portfolio must have applied for the account before its next plan: the most of
   * (fills applied at proposal + fills made) over its plans that placed orders; undefined when none did.
   */
  readonly fillsExpected: (accountId: string) => Effect.Effect<bigint | undefined, Unavailable>;
}

/** Storage of plans. */
export class PlanStore extends Context.Service<PlanStore, PlanStoreShape>()("@meridian/planning/PlanStore") {}

interface PlanRow {
  plan_id: string;
  account_id: string;
  status: number;
  regime: number;
  risk_profile: number;
  currency: string;
  holdings: number;
  cash_floor_bps: number;
  cash_minor: string;
  cash_floor_minor: string;
  total_value_minor: string;
  estimated_cash_after_minor: string;
  created_at: Date;
  executed_at: Date | null;
  fills_applied_before: string;
  fill_count: string | null;
}

interface TargetRow {
  symbol: string;
  score: number;
  target_weight: number;
  current_weight: number;
}

interface TradeRow {
  symbol: string;
  side: number;
  quantity: string;
  reference_price_micros: string;
  estimated_amount_minor: string;
  order_id: string | null;
}

/** The PostgreSQL store, over the service's pool. */
export const layerPlanStore: Layer.Layer<PlanStore, never, Sql> = Layer.effect(
  PlanStore,
  Effect.map(Effect.context<Sql>(), (context) => {
    const run = <A>(effect: Effect.Effect<A, Unavailable, Sql>) => Effect.provideContext(effect, context);
    return {
      insert: (plan) => run(query((sql) => sql.begin((tx) => insertPlan(tx, plan)))).pipe(Effect.asVoid),
      get: (planId) => run(query((sql) => readPlan(sql, planId))),
      recordOrder: (planId, tradeIndex, orderId) =>
        run(
          query((sql) => sql`
            update plan_trades set order_id = ${orderId}
            where plan_id = ${planId} and trade_index = ${tradeIndex} and order_id is null`),
        ).pipe(Effect.asVoid),
      fillsExpected: (accountId) =>
        run(
          query((sql) => sql<Array<{ expected: string | null }>>`
            select max(fills_applied_before + fill_count)::text as expected from plans
            where account_id = ${accountId} and fill_count is not null`),
        ).pipe(Effect.map(([row]) => (row?.expected == null ? undefined : BigInt(row.expected)))),
      recordFills: (planId, fillCount) =>
        run(
          query((sql) => sql`
            update plans set fill_count = greatest(coalesce(fill_count, 0), ${fillCount.toString()})
            where plan_id = ${planId}`),
        ).pipe(Effect.asVoid),
      markExecuted: (planId, fillCount) =>
        run(
          query((sql) => sql<Array<{ executed_at: Date }>>`
            update plans set status = ${PlanStatus.EXECUTED}, executed_at = coalesce(executed_at, now()),
                             fill_count = greatest(coalesce(fill_count, 0), ${fillCount.toString()})
            where plan_id = ${planId}
            returning executed_at`),
        ).pipe(
          Effect.map(([row]) => {
            if (row === undefined) throw new Error(`plan ${planId} vanished while it was executed`);
            return row.executed_at;
          }),
        ),
    };
  }),
);

async function insertPlan(tx: postgres.TransactionSql, plan: PlanRecord): Promise<void> {
  await tx`
    insert into plans (plan_id, account_id, status, regime, risk_profile, currency, holdings, cash_floor_bps,
                       cash_minor, cash_floor_minor, total_value_minor, estimated_cash_after_minor, created_at, executed_at,
                       fills_applied_before, fill_count)
    values (${plan.planId}, ${plan.accountId}, ${plan.status}, ${plan.regime}, ${plan.riskProfile}, ${plan.currency},
            ${plan.allocation.holdings}, ${plan.allocation.cashFloorBps}, ${plan.cashMinor.toString()},
            ${plan.cashFloorMinor.toString()}, ${plan.totalValueMinor.toString()}, ${plan.estimatedCashAfterMinor.toString()},
            ${plan.createdAt}, ${plan.executedAt ?? null}, ${plan.fillsAppliedBefore.toString()},
            ${plan.fillCount === undefined ? null : plan.fillCount.toString()})`;
  if (plan.targets.length > 0) {
    const targets = plan.targets.map((t, position) => ({
      plan_id: plan.planId,
      position,
      symbol: t.symbol,
      score: t.score,
      target_weight: t.targetWeight,
      current_weight: t.currentWeight,
    }));
    await tx`insert into plan_targets ${tx(targets)}`;
  }
  if (plan.trades.length > 0) {
    const trades = plan.trades.map((t, tradeIndex) => ({
      plan_id: plan.planId,
      trade_index: tradeIndex,
      symbol: t.symbol,
      side: t.side,
      quantity: t.quantity.toString(),
      reference_price_micros: t.referencePriceMicros.toString(),
      estimated_amount_minor: t.estimatedAmountMinor.toString(),
      order_id: t.orderId ?? null,
    }));
    await tx`insert into plan_trades ${tx(trades)}`;
  }
}

async function readPlan(sql: postgres.Sql, planId: string): Promise<PlanRecord | undefined> {
  const [plan] = await sql<PlanRow[]>`select * from plans where plan_id = ${planId}`;
  if (plan === undefined) return undefined;
  const targets = await sql<TargetRow[]>`
    select symbol, score, target_weight, current_weight from plan_targets where plan_id = ${planId} order by position`;
  const trades = await sql<TradeRow[]>`
    select symbol, side, quantity, reference_price_micros, estimated_amount_minor, order_id
    from plan_trades where plan_id = ${planId} order by trade_index`;
  return {
    planId: plan.plan_id,
    accountId: plan.account_id,
    status: plan.status as PlanStatus,
    regime: plan.regime as Regime,
    riskProfile: plan.risk_profile as RiskProfile,
    currency: plan.currency,
    allocation: { holdings: plan.holdings, cashFloorBps: plan.cash_floor_bps },
    cashMinor: BigInt(plan.cash_minor),
    cashFloorMinor: BigInt(plan.cash_floor_minor),
    totalValueMinor: BigInt(plan.total_value_minor),
    estimatedCashAfterMinor: BigInt(plan.estimated_cash_after_minor),
    targets: targets.map((t) => ({
      symbol: t.symbol,
      score: t.score,
      targetWeight: t.target_weight,
      currentWeight: t.current_weight,
    })),
    trades: trades.map((t) => ({
      symbol: t.symbol,
      side: t.side as StoredTrade["side"],
      quantity: BigInt(t.quantity),
      referencePriceMicros: BigInt(t.reference_price_micros),
      estimatedAmountMinor: BigInt(t.estimated_amount_minor),
      orderId: t.order_id ?? undefined,
    })),
    createdAt: plan.created_at,
    executedAt: plan.executed_at ?? undefined,
    fillsAppliedBefore: BigInt(plan.fills_applied_before),
    fillCount: plan.fill_count === null ? undefined : BigInt(plan.fill_count),
  };
}
