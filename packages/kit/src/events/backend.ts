/**
 * What the event bus needs from a stream store: append-only streams with consumer groups, a
 * pending list per group with delivery counts, claims, acknowledgement and dead-lettering.
 * Redis Streams is one; the in-process store is the other, with the same semantics, so the
 * consumer, the relay and their tests are written once against this interface.
 */
import { Data } from "effect";

/** One delivery of a stream entry to a consumer. */
export interface Delivery {
  readonly streamId: string;
  /** The entry's envelope bytes; undefined when the entry has none (written by something else). */
  readonly envelope: Uint8Array | undefined;
  /** How many times the entry has been delivered in its group, this delivery included. */
  readonly deliveries: number;
}

/** A dead-lettered entry: the envelope and why it gave up. */
export interface DeadLetter {
  /** The dead-letter stream entry's id. */
  readonly streamId: string;
  readonly envelope: Uint8Array | undefined;
  readonly reason: string;
  readonly group: string;
  readonly deliveries: number;
  /** The entry's id in the original stream. */
  readonly originalStreamId: string;
  readonly failedAt: Date;
}

/** A key whose presence proves the store still holds what it was given since the key was set. */
export interface Marker {
  readonly key: string;
  readonly token: string;
}

/** How far every consumer group of a stream has acknowledged it. */
export type Consumption =
  /** The marker is gone: the store lost its data (a Redis restart without persistence). */
  | { readonly _tag: "lost" }
  /** No consumer group reads the stream. */
  | { readonly _tag: "noGroups" }
  /** Every entry before `streamId` is acknowledged by every group. */
  | { readonly _tag: "before"; readonly streamId: string };

/** The store refused an append: the stream is at its cap and every group still needs its entries. */
export class StreamFull extends Data.TaggedError("StreamFull")<{ readonly stream: string }> {
  override get message(): string {
    return `stream ${this.stream} is full of entries not yet acknowledged by every consumer group`;
  }
}

/** The store refused an append made under a marker that is gone: it lost its data. */
export class MarkerLost extends Data.TaggedError("MarkerLost")<{ readonly key: string }> {
  override get message(): string {
    return `marker ${this.key} is gone: the stream store lost its data`;
  }
}

/** A connection for blocking reads. */
export interface StreamReader {
  /** New entries for `consumer` (delivery 1), waiting up to `blockMs` for some. Recreates a vanished group. */
  readonly readNew: (stream: string, group: string, consumer: string, count: number, blockMs: number) => Promise<ReadonlyArray<Delivery>>;
  /**
   * Entries with ids after `afterId` (no group, nothing recorded), waiting up to `blockMs` for
   * some (XREAD): for live views that follow a stream.
   */
  readonly readAfter: (stream: string, afterId: string, count: number, blockMs: number) => Promise<ReadonlyArray<Delivery>>;
  readonly close: () => void;
}

/** The stream store. Every method may reject when the store is unreachable. */
export interface StreamBackend {
  /**
   * Appends entries holding `envelopes`, in order. At `maxLen` entries, first trims the entries
   * every group has acknowledged; if still at the cap, it stops there: `streamIds` has one id per
   * envelope appended, and fewer than `envelopes` means the rest were refused (the stream is
   * full). With no group at all, the oldest entries are trimmed instead and counted in
   * `droppedUnconsumed`. Under a `marker`, rejects with MarkerLost (appending nothing) when the
   * marker is gone.
   */
  readonly append: (
    stream: string,
    envelopes: ReadonlyArray<Uint8Array>,
    options: { readonly maxLen: number; readonly marker?: Marker },
  ) => Promise<{ readonly streamIds: ReadonlyArray<string>; readonly droppedUnconsumed: number }>;
  /** Creates the group if missing, reading from the stream's first retained entry. */
  readonly ensureGroup: (stream: string, group: string) => Promise<void>;
  readonly openReader: () => Promise<StreamReader>;
  /**
   * Claims for `consumer` up to `count` entries pending in the group for at least `minIdleMs`,
   * whoever had them (XAUTOCLAIM), counting a delivery each. `missing` are pending ids whose
   * entry no longer exists; they are dropped from the pending list.
   */
  readonly claimStale: (
    stream: string,
    group: string,
    consumer: string,
    minIdleMs: number,
    count: number,
  ) => Promise<{ readonly deliveries: ReadonlyArray<Delivery>; readonly missing: ReadonlyArray<string> }>;
  /** Claims the given entries if idle for at least `minIdleMs`, counting a delivery each (XCLAIM). */
  readonly claim: (stream: string, group: string, consumer: string, ids: ReadonlyArray<string>, minIdleMs: number) => Promise<ReadonlyArray<Delivery>>;
  /**
   * Hands back deliveries `consumer` will not handle (it is stopping): their delivery is not
   * counted and they are made `idleMs` idle, so the group's next stale claim takes them at once.
   */
  readonly release: (stream: string, group: string, consumer: string, deliveries: ReadonlyArray<Delivery>, idleMs: number) => Promise<void>;
  /** Resets the idle time of entries `consumer` is working on, so nobody claims them (XCLAIM JUSTID). */
  readonly touch: (stream: string, group: string, consumer: string, ids: ReadonlyArray<string>) => Promise<void>;
  readonly ack: (stream: string, group: string, ids: ReadonlyArray<string>) => Promise<void>;
  /**
   * Atomically appends the entry to `deadLetterStream` (capped like `append`) and acknowledges it.
   * Resolves false, doing nothing, when the entry is no longer pending (someone else settled it).
   */
  readonly deadLetter: (
    stream: string,
    group: string,
    delivery: Delivery,
    deadLetterStream: string,
    details: { readonly reason: string; readonly maxLen: number },
  ) => Promise<boolean>;
  /** Up to `count` entries of a dead-letter stream, oldest first. */
  readonly readDeadLetters: (deadLetterStream: string, count: number) => Promise<ReadonlyArray<DeadLetter>>;
  /** How far the stream is consumed, or `lost` when `marker` is gone. */
  readonly consumption: (stream: string, marker: Marker) => Promise<Consumption>;
  readonly setMarker: (marker: Marker) => Promise<void>;
  /** The id of the stream's newest entry ever appended, or "0-0" for a stream that never had one. */
  readonly lastId: (stream: string) => Promise<string>;
}

/** Splits "1795601297784-3" into its two numbers. */
export function parseStreamId(id: string): readonly [ms: number, seq: number] {
  const dash = id.indexOf("-");
  return [Number(id.slice(0, dash)), Number(id.slice(dash + 1))];
}

/** Orders stream ids. */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = parseStreamId(a);
  const [bm, bs] = parseStreamId(b);
  return am === bm ? as - bs : am - bm;
}
