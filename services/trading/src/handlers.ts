/**
 * TradingService's RPCs → the order rules, the other services and the store.
 * Bad input becomes InvalidArgument naming every field; each refusal its typed error.
 */
import { Effect } from "effect";
import { implement, InvalidArgument, nextPageToken, readPage, RequestContext } from "@meridian/kit";
import type { EventMeta } from "@meridian/kit/events";
import { OrderStatus, OrderType, Trading } from "@meridian/sdk/trading";
import { marketFillPriceMicros } from "./domain/execution.js";
import { checkAccountId, checkOrderId, sameTerms, validateOrder, type OrderTerms, type Violation } from "./domain/order.js";
import { TradingConfig } from "./config.js";
import {
  CurrencyMismatch,
  IdempotencyKeyReused,
  InsufficientFunds,
  InsufficientPosition,
  NoQuote,
  OrderNotCancellable,
  SymbolNotTradable,
  UnknownOrder,
} from "./errors.js";
import { Downstream } from "./downstream.js";
import { toOrder } from "./messages.js";
import { OrderStore } from "./store.js";
import type { AccountFacts, OrderRecord } from "./records.js";

/** ListOrders pages: 50 by default, at most 500. */
export const pageLimits = { defaultSize: 50, maxSize: 500 } as const;

/** Why an order was cancelled when the caller does not say. */
export const defaultCancelReason = "cancelled by the account owner";

/** The trading service's handlers, bound to the store, the settings and the clients of universe, portfolio and market. */
export const tradingHandlers = Effect.gen(function* () {
  const store = yield* Effect.service(OrderStore);
  const settings = yield* Effect.service(TradingConfig);
  const { security: universe, accountFacts: portfolio, latestQuote: market } = yield* Effect.service(Downstream);

  /** What the other services say of an order: the account's facts, its security tradable in its currency, a quote for a market order. */
  const checkOrder = (terms: OrderTerms, facts: AccountFacts | undefined) =>
    Effect.gen(function* () {
      const security = yield* universe(terms.symbol);
      if (!security.active) return yield* new SymbolNotTradable({ symbol: terms.symbol });
      const account = facts ?? (yield* portfolio(terms.accountId));
      if (account.currency !== security.currency) {
        return yield* new CurrencyMismatch({
          accountId: terms.accountId,
          accountCurrency: account.currency,
          symbol: terms.symbol,
          symbolCurrency: security.currency,
        });
      }
      const quote = yield* market(terms.symbol);
      if (terms.type === OrderType.MARKET && quote === undefined) return yield* new NoQuote({ symbol: terms.symbol });
      return { account, quote };
    });

  return yield* implement(Trading, {
    placeOrder: (request) =>
      Effect.gen(function* () {
        const valid = validateOrder(request);
        if (!valid.ok) return yield* new InvalidArgument({ fieldViolations: valid.violations });
        const { terms } = valid;
        const known = store.knownFacts(terms.accountId);
        // A retry of a placed order is answered from the database alone. For an account this
        // instance knows, the placement finds it instead (under the account's lock), which saves
        // a query per order; only a refusal before it asks the database for an earlier order.
        const { earlier, facts } = known === undefined ? yield* store.lookup(terms.accountId, terms.idempotencyKey) : { earlier: undefined, facts: known };
        if (earlier !== undefined) return yield* answerEarlier(earlier, terms);
        const checked = yield* checkOrder(terms, facts).pipe(
          Effect.catch((refusal) =>
            known === undefined
              ? Effect.fail(refusal)
              : Effect.flatMap(store.lookup(terms.accountId, terms.idempotencyKey), ({ earlier }) =>
                  earlier === undefined ? Effect.fail(refusal) : Effect.succeed({ earlier }),
                ),
          ),
        );
        if ("earlier" in checked) return yield* answerEarlier(checked.earlier, terms);
        const { account, quote } = checked;

        const outcome = yield* store.place({
          terms,
          currency: account.currency,
          fillPriceMicros:
            terms.type === OrderType.MARKET ? marketFillPriceMicros(quote!.priceMicros, terms.side, settings.slippageBps) : undefined,
          restsAfter: quote?.date ?? "",
          feeBps: settings.feeBps,
          meta: yield* eventMeta,
        });
        switch (outcome._tag) {
          case "Placed":
            return { order: toOrder(outcome.order), created: true };
          case "Existing":
            return { order: toOrder(outcome.order), created: false };
          case "KeyReused":
            return yield* new IdempotencyKeyReused({ idempotencyKey: terms.idempotencyKey, orderId: outcome.orderId });
          case "InsufficientFunds":
            return yield* new InsufficientFunds({
              accountId: terms.accountId,
              requiredMinor: outcome.requiredMinor,
              availableMinor: outcome.availableMinor,
            });
          case "InsufficientPosition":
            return yield* new InsufficientPosition({
              accountId: terms.accountId,
              symbol: terms.symbol,
              requested: outcome.requested,
              available: outcome.available,
            });
        }
      }),

    cancelOrder: (request) =>
      Effect.gen(function* () {
        yield* failIfAny([
          ...checkOrderId(request.orderId, "order_id"),
          ...(request.reason.length > 500 ? [{ field: "reason", description: "must be at most 500 characters" }] : []),
        ]);
        const reason = request.reason.trim() === "" ? defaultCancelReason : request.reason.trim();
        const outcome = yield* store.cancel(request.orderId.toLowerCase(), reason, yield* eventMeta);
        switch (outcome._tag) {
          case "Cancelled":
            return { order: toOrder(outcome.order) };
          case "NotCancellable":
            return yield* new OrderNotCancellable({ orderId: request.orderId, status: statusName(outcome.status) });
          case "Unknown":
            return yield* new UnknownOrder({ orderId: request.orderId });
        }
      }),

    getOrder: (request) =>
      Effect.gen(function* () {
        yield* failIfAny(checkOrderId(request.orderId, "order_id"));
        const order = yield* store.get(request.orderId.toLowerCase());
        if (order === undefined) return yield* new UnknownOrder({ orderId: request.orderId });
        return { order: toOrder(order) };
      }),

    listOrders: (request) =>
      Effect.gen(function* () {
        const violations = checkAccountId(request.accountId, "account_id");
        if (OrderStatus[request.status] === undefined) {
          violations.push({ field: "status", description: "must be an OrderStatus, or ORDER_STATUS_UNSPECIFIED for all" });
        }
        const status = request.status === OrderStatus.UNSPECIFIED ? undefined : request.status;
        const filter = { accountId: request.accountId, status: status ?? null };
        const page = yield* readPage<string>(request.page, pageLimits, filter).pipe(
          Effect.catchTag("InvalidArgument", (e) => Effect.fail(new InvalidArgument({ fieldViolations: [...violations, ...e.fieldViolations] }))),
        );
        yield* failIfAny(violations);
        // One extra row tells whether a next page exists.
        const rows = yield* store.list(request.accountId, status, page.after, page.size + 1);
        const items = rows.slice(0, page.size);
        return {
          orders: items.map(toOrder),
          page: { nextPageToken: nextPageToken(items.at(-1)?.orderId, rows.length > page.size, filter) },
        };
      }),
  });
});

/** A placement asked again with its idempotency key: the same order, or IdempotencyKeyReused for other terms. */
function answerEarlier(earlier: OrderRecord, terms: OrderTerms) {
  return sameTerms(earlier, terms)
    ? Effect.succeed({ order: toOrder(earlier), created: false })
    : Effect.fail(new IdempotencyKeyReused({ idempotencyKey: terms.idempotencyKey, orderId: earlier.orderId }));
}

/** The call's correlation id and trace context, carried by the events it causes. */
const eventMeta: Effect.Effect<EventMeta, never, RequestContext> = Effect.map(Effect.service(RequestContext), (call) => {
  const trace = call.traceHeaders();
  return {
    correlationId: call.correlationId,
    ...(trace.traceparent === undefined ? {} : { traceparent: trace.traceparent, tracestate: trace.tracestate ?? "" }),
  };
});

/** "open", "filled", "cancelled": what OrderNotCancellable reports. */
export function statusName(status: OrderStatus): string {
  return (OrderStatus[status] ?? "unspecified").toLowerCase();
}

function failIfAny(violations: Violation[]): Effect.Effect<void, InvalidArgument> {
  return violations.length === 0 ? Effect.void : Effect.fail(new InvalidArgument({ fieldViolations: violations }));
}
