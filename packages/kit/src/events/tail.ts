/**
 * Following a topic live: the events appended from now on, for views such as server streams
 * (WatchRegime, WatchEvents). No consumer group and no acknowledgement: a follower that is not
 * listening misses events, so work that must not be lost uses a consumer instead.
 */
import type { Message } from "@bufbuild/protobuf";
import { Duration, Effect, Option, Schedule, Stream } from "effect";
import { outageLog } from "../redis/outage-log.js";
import type { StreamReader } from "./backend.js";
import { EventBus } from "./bus.js";
import { receiveEvent, type ReceivedEvent } from "./envelope.js";
import type { EventType } from "./topic.js";

/** How a follower reads. */
export interface TailOptions {
  /** Longest wait of one blocking read (default 1,000 ms): bounds how late an interrupted follower lets go of its reader. */
  readonly blockMs?: number;
  /** Entries per read (default 100). */
  readonly batchSize?: number;
  /**
   * Called once the follower has its starting point: every event appended after this call is in
   * the stream (a live view can tell its client it is now watching).
   */
  readonly onFollowing?: () => void;
}

/** The group name followers report in their events (they read without a group). */
export const tailGroup = "tail";

// While the store is unreachable the follower waits and resumes from where it was: a live view
// sees a pause, not an error.
const reconnect = Schedule.spaced(Duration.millis(500));

/**
 * The events of `event`'s topic appended after the stream is started, in stream order, until the
 * stream is interrupted; an outage of the store pauses it and it resumes without a gap in what the
 * store still holds. Entries that do not decode as `event` are skipped.
 */
export const tail = <A extends Message>(event: EventType<A>, options: TailOptions = {}): Stream.Stream<ReceivedEvent<A>, never, EventBus> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const bus = yield* EventBus;
      const key = bus.streamKey(event.topic);
      const blockMs = options.blockMs ?? 1000;
      const count = options.batchSize ?? 100;
      const reader = yield* Effect.acquireRelease(retrying(() => bus.backend.openReader(), event.topic), (r: StreamReader) =>
        Effect.sync(() => r.close()),
      );
      const start = yield* retrying(() => bus.backend.lastId(key), event.topic);
      options.onFollowing?.();
      return Stream.paginate(start, (after: string) =>
        retrying(() => reader.readAfter(key, after, count, blockMs), event.topic).pipe(
          Effect.map((entries) => {
            const received: Array<ReceivedEvent<A>> = [];
            for (const entry of entries) {
              const decoded = receiveEvent(event, entry, tailGroup);
              if (decoded.ok) received.push(decoded.event);
            }
            return [received, Option.some(entries.at(-1)?.streamId ?? after)] as const;
          }),
        ),
      );
    }),
  );

const outage = outageLog("event follower cannot read the event store; retrying");

function retrying<A>(run: () => Promise<A>, topic: string): Effect.Effect<A> {
  return Effect.tryPromise(run).pipe(
    Effect.tapError((e) => Effect.sync(() => outage.failed({ topic, error: String(e.cause ?? e) }))),
    Effect.retry(reconnect),
    Effect.tap(() => Effect.sync(() => outage.recovered({ topic }))),
    Effect.orDie,
  );
}
