/**
 * A stored plan as the proto message callers see.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { PlanSchema } from "@meridian/sdk/planning";
import type { PlanRecord } from "./store.js";

/** The Plan message of a stored plan. */
export function toPlanMessage(plan: PlanRecord): MessageInitShape<typeof PlanSchema> {
  return {
    planId: plan.planId,
    accountId: plan.accountId,
    status: plan.status,
    regime: plan.regime,
    riskProfile: plan.riskProfile,
    cashFloor: plan.allocation.cashFloorBps / 10_000,
    targets: plan.targets.map((t) => ({ ...t })),
    trades: plan.trades.map((t) => ({
      symbol: t.symbol,
      side: t.side,
      quantity: t.quantity,
      referencePriceMicros: t.referencePriceMicros,
      estimatedAmountMinor: t.estimatedAmountMinor,
    })),
    totalValueMinor: plan.totalValueMinor,
    createdAt: timestampFromDate(plan.createdAt),
    ...(plan.executedAt === undefined ? {} : { executedAt: timestampFromDate(plan.executedAt) }),
  };
}
