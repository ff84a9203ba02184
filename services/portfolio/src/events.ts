/**
 * The events the portfolio service consumes and produces (topics and payloads from proto/).
 */
import { defineEvent } from "@meridian/kit/events";
import { AccountChangedSchema } from "@meridian/sdk/portfolio";
import { OrderFilledSchema } from "@meridian/sdk/trading";

/** Consumed (group "portfolio"): each fill moves an account's cash and positions, once. */
export const OrderFilledEvent = defineEvent("meridian.trading.order.filled", OrderFilledSchema);

/** Produced through the outbox with each applied fill; WatchPortfolio follows it. */
export const AccountChangedEvent = defineEvent("meridian.portfolio.account.changed", AccountChangedSchema);

/** The consumer group of this service. */
export const consumerGroup = "portfolio";
