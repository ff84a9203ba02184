/**
 * WatchEvents: the live events an account's owner sees, followed with the
 * kit's `tail` (from the moment the stream starts; a view, not a queue): the
 * account's orders placed and filled, and every regime change. The first
 * message says the stream is following, so a client knows what it will see.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Effect, Stream } from "effect";
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

/**
 * First `watching` (once every topic is followed), then the account's placed and filled orders and
 * every regime change, as they are appended, until interrupted.
 */
export function accountEvents(accountId: string): Stream.Stream<WatchEvent, never, EventBus> {
  return Stream.unwrap(
    Effect.sync(() => {
      const topics = 3;
      let following = 0;
      let allFollowing: () => void = () => {};
      const started = new Promise<void>((resolve) => (allFollowing = resolve));
      const options = { onFollowing: () => void (++following === topics && allFollowing()) };
      const placed = tail(orderPlacedEvent, options).pipe(
        Stream.filter((e) => e.payload.accountId === accountId),
        Stream.map((e) => framed(e, { case: "orderPlaced", value: e.payload })),
      );
      const filled = tail(orderFilledEvent, options).pipe(
        Stream.filter((e) => e.payload.accountId === accountId),
        Stream.map((e) => framed(e, { case: "orderFilled", value: e.payload })),
      );
      const regimes = tail(regimeChangedEvent, options).pipe(Stream.map((e) => framed(e, { case: "regimeChanged", value: e.payload })));
      const watching = Stream.fromEffect(
        Effect.promise(() => started).pipe(
          Effect.map((): WatchEvent => ({ eventId: "", time: timestampFromDate(new Date()), event: { case: "watching", value: { accountId } } })),
        ),
      );
      return Stream.mergeAll([watching, placed, filled, regimes], { concurrency: "unbounded" });
    }),
  );
}

function framed(received: ReceivedEvent<never> | ReceivedEvent<any>, event: WatchEventsResponse["event"]): WatchEvent {
  return { eventId: received.id, time: timestampFromDate(received.time), event };
}
