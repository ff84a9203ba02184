/**
 * PlanningService's RPCs → inputs from the other services, plan construction,
 * the store and execution. Nothing else: bad ids become InvalidArgument naming
 * the field, a missing plan UnknownPlan, a missing account UnknownAccount.
 */
import { Effect } from "effect";
import { implement, InvalidArgument } from "@meridian/kit";
import { Planning, PlanStatus } from "@meridian/sdk/planning";
import { PlanningRules, PortfolioCatchUp } from "./config.js";
import { buildPlan } from "./domain/plan.js";
import { checkId, type Violation } from "./domain/request.js";
import { UnknownPlan } from "./errors.js";
import { executePlan } from "./execution.js";
import { gatherPlanInput } from "./inputs.js";
import { toPlanMessage } from "./plan-message.js";
import { PlanStore } from "./store.js";

/** The planning service's handlers, bound to the store, the rules and the clients of the services it calls. */
export const planningHandlers = Effect.gen(function* () {
  const store = yield* Effect.service(PlanStore);
  const rules = yield* Effect.service(PlanningRules);
  const catchUp = yield* Effect.service(PortfolioCatchUp);
  const storedPlan = (planId: string) =>
    Effect.flatMap(store.get(planId), (plan) => (plan === undefined ? Effect.fail(new UnknownPlan({ planId })) : Effect.succeed(plan)));
  return yield* implement(Planning, {
    proposeRebalance: (request) =>
      Effect.gen(function* () {
        yield* failIfAny(checkId(request.accountId, "account_id"));
        const fillsExpected = yield* store.fillsExpected(request.accountId);
        const { input, currency, fillsApplied } = yield* gatherPlanInput(request.accountId, rules, {
          fillsExpected,
          timeoutMs: catchUp.timeoutMs,
        });
        const plan = {
          ...buildPlan(input),
          planId: Bun.randomUUIDv7(),
          accountId: request.accountId,
          status: PlanStatus.PROPOSED,
          regime: input.regime,
          riskProfile: input.riskProfile,
          currency,
          createdAt: new Date(),
          executedAt: undefined,
          fillsAppliedBefore: fillsApplied,
          fillCount: undefined,
        };
        const stored = { ...plan, trades: plan.trades.map((t) => ({ ...t, orderId: undefined })) };
        yield* store.insert(stored);
        return { plan: toPlanMessage(stored) };
      }),
    executePlan: (request) =>
      Effect.gen(function* () {
        yield* failIfAny(checkId(request.planId, "plan_id"));
        const { plan, orders } = yield* executePlan(yield* storedPlan(request.planId));
        return { plan: toPlanMessage(plan), orders: [...orders] };
      }),
    getPlan: (request) =>
      Effect.gen(function* () {
        yield* failIfAny(checkId(request.planId, "plan_id"));
        return { plan: toPlanMessage(yield* storedPlan(request.planId)) };
      }),
  });
});

function failIfAny(violations: Violation[]): Effect.Effect<void, InvalidArgument> {
  return violations.length === 0 ? Effect.void : Effect.fail(new InvalidArgument({ fieldViolations: violations }));
}
