/**
 * WatchEvents: the live events an account's owner sees, followed with the
 * kit's `tail` (from the moment the stream starts; a view, not a queue): the
 * account's orders placed and filled, and every regime change.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Stream } from "effect";
import { defineEvent, tail, type EventBus, type ReceivedEvent } from "@meridian/kit/events";
import type { WatchEventsResponse } from "@meridian/sdk/gateway";
import { RegimeChangedSchema } from "@meridian/sdk/market";
import { OrderFilledSchema, OrderPlacedSchema } from "@meridian/sdk/trading";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { WatchEventsResponseSchema } from "@meridian/sdk/gateway";

/** The topics the gateway follows (declared by their producers in proto/…/events.proto). */
export const orderPlacedEvent = defineEvent("meridian.trading.order.placed", OrderPlacedSchema);
export const orderFilledEvent = defineEvent("meridian.trading.order.filled", OrderFilledSchema);
export const regimeChangedEvent = defineEvent("meridian.market.regime.changed", RegimeChangedSchema);

type WatchEvent = MessageInitShape<typeof WatchEventsResponseSchema>;

/** The account's placed and filled orders and every regime change, as they are appended, until interrupted. */
export function accountEvents(accountId: string): Stream.Stream<WatchEvent, never, EventBus> {
  const placed = tail(orderPlacedEvent).pipe(
    Stream.filter((e) => e.payload.accountId === accountId),
    Stream.map((e) => framed(e, { case: "orderPlaced", value: e.payload })),
  );
  const filled = tail(orderFilledEvent).pipe(
    Stream.filter((e) => e.payload.accountId === accountId),
    Stream.map((e) => framed(e, { case: "orderFilled", value: e.payload })),
  );
  const regimes = tail(regimeChangedEvent).pipe(Stream.map((e) => framed(e, { case: "regimeChanged", value: e.payload })));
  return Stream.mergeAll([placed, filled, regimes], { concurrency: "unbounded" });
}

function framed(received: ReceivedEvent<never> | ReceivedEvent<any>, event: WatchEventsResponse["event"]): WatchEvent {
  return { eventId: received.id, time: timestampFromDate(received.time), event };
}
