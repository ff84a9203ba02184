/**
 * The stream store in the process's memory, for when REDIS_URL is unset: Redis Streams'
 * semantics (groups, pending lists, delivery counts, claims, the cap, dead letters) without
 * Redis. It lives as long as the process; the outbox's marker tells the relay when it is new.
 */
import {
  compareStreamIds,
  MarkerLost,
  parseStreamId,
  StreamFull,
  type Consumption,
  type DeadLetter,
  type Delivery,
  type StreamBackend,
} from "./backend.js";

interface DeadLetterFields {
  readonly reason: string;
  readonly group: string;
  readonly deliveries: number;
  readonly originalStreamId: string;
  readonly failedAt: Date;
}

interface Entry {
  readonly id: string;
  readonly ms: number;
  readonly seq: number;
  readonly envelope: Uint8Array | undefined;
  readonly dead?: DeadLetterFields;
}

interface Pending {
  consumer: string;
  deliveredAt: number;
  deliveries: number;
}

interface Group {
  lastMs: number;
  lastSeq: number;
  readonly pending: Map<string, Pending>;
}

interface Stream {
  /** In id order. */
  readonly entries: Entry[];
  lastMs: number;
  lastSeq: number;
  readonly groups: Map<string, Group>;
  readonly waiters: Set<() => void>;
}

/** A fresh, empty in-process stream store. */
export function memoryBackend(): StreamBackend {
  const streams = new Map<string, Stream>();
  const markers = new Map<string, string>();

  const streamNamed = (name: string): Stream => {
    let stream = streams.get(name);
    if (stream === undefined) {
      stream = { entries: [], lastMs: 0, lastSeq: 0, groups: new Map(), waiters: new Set() };
      streams.set(name, stream);
    }
    return stream;
  };

  const ensureGroup = (name: string, group: string): Group => {
    const stream = streamNamed(name);
    let found = stream.groups.get(group);
    if (found === undefined) {
      found = { lastMs: 0, lastSeq: 0, pending: new Map() };
      stream.groups.set(group, found);
    }
    return found;
  };

  // One entry; undefined when the stream is full.
  const append = (name: string, maxLen: number, fields: Omit<Entry, "id" | "ms" | "seq">) => {
    const stream = streamNamed(name);
    let droppedUnconsumed = 0;
    if (stream.entries.length >= maxLen) {
      const safe = consumedBefore(stream);
      if (safe === undefined) {
        droppedUnconsumed = stream.entries.length - (maxLen - 1);
        stream.entries.splice(0, droppedUnconsumed);
      } else {
        stream.entries.splice(0, firstIndexAtOrAfter(stream.entries, safe[0], safe[1]));
        if (stream.entries.length >= maxLen) return undefined;
      }
    }
    const now = Date.now();
    const ms = Math.max(now, stream.lastMs);
    const seq = ms === stream.lastMs ? stream.lastSeq + 1 : 0;
    stream.lastMs = ms;
    stream.lastSeq = seq;
    const entry: Entry = { id: `${ms}-${seq}`, ms, seq, ...fields };
    stream.entries.push(entry);
    const waiters = [...stream.waiters];
    stream.waiters.clear();
    for (const wake of waiters) wake();
    return { streamId: entry.id, droppedUnconsumed };
  };

  const entryById = (stream: Stream, id: string): Entry | undefined => {
    const [ms, seq] = parseStreamId(id);
    const at = firstIndexAtOrAfter(stream.entries, ms, seq);
    const entry = stream.entries[at];
    return entry !== undefined && entry.id === id ? entry : undefined;
  };

  const deliver = (stream: Stream, group: Group, id: string, pending: Pending, consumer: string): Delivery | undefined => {
    const entry = entryById(stream, id);
    if (entry === undefined) {
      group.pending.delete(id);
      return undefined;
    }
    pending.consumer = consumer;
    pending.deliveredAt = Date.now();
    pending.deliveries += 1;
    return { streamId: id, envelope: entry.envelope, deliveries: pending.deliveries };
  };

  const existingGroup = (name: string, group: string): { stream: Stream; group: Group } => {
    const stream = streams.get(name);
    const found = stream?.groups.get(group);
    if (stream === undefined || found === undefined) throw new Error(`NOGROUP no group ${group} on stream ${name}`);
    return { stream, group: found };
  };

  return {
    append: async (name, envelopes, { maxLen, marker }) => {
      if (marker !== undefined && markers.get(marker.key) !== marker.token) throw new MarkerLost({ key: marker.key });
      const streamIds: string[] = [];
      let droppedUnconsumed = 0;
      for (const envelope of envelopes) {
        const appended = append(name, maxLen, { envelope: envelope.slice() });
        if (appended === undefined) break;
        streamIds.push(appended.streamId);
        droppedUnconsumed += appended.droppedUnconsumed;
      }
      return { streamIds, droppedUnconsumed };
    },

    ensureGroup: async (name, group) => {
      ensureGroup(name, group);
    },

    openReader: async () => {
      let closed = false;
      const wakeOnClose = new Set<() => void>();
      // Resolves at the next append to the stream, after `blockMs`, or when the reader closes.
      const appendedTo = (name: string, blockMs: number) =>
        new Promise<void>((resolve) => {
          const stream = streamNamed(name);
          const wake = () => {
            clearTimeout(timer);
            stream.waiters.delete(wake);
            wakeOnClose.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, blockMs);
          stream.waiters.add(wake);
          wakeOnClose.add(wake);
        });
      return {
        readNew: async (name, groupName, consumer, count, blockMs) => {
          const take = (): Delivery[] => {
            const stream = streamNamed(name);
            const group = ensureGroup(name, groupName);
            const from = firstIndexAfter(stream.entries, group.lastMs, group.lastSeq);
            const taken = stream.entries.slice(from, from + count);
            const now = Date.now();
            for (const entry of taken) group.pending.set(entry.id, { consumer, deliveredAt: now, deliveries: 1 });
            const last = taken[taken.length - 1];
            if (last !== undefined) {
              group.lastMs = last.ms;
              group.lastSeq = last.seq;
            }
            return taken.map((entry) => ({ streamId: entry.id, envelope: entry.envelope, deliveries: 1 }));
          };
          const first = take();
          if (first.length > 0 || blockMs <= 0 || closed) return first;
          await appendedTo(name, blockMs);
          return closed ? [] : take();
        },
        readAfter: async (name, afterId, count, blockMs) => {
          const [ms, seq] = parseStreamId(afterId);
          const take = (): Delivery[] => {
            const stream = streamNamed(name);
            return stream.entries
              .slice(firstIndexAfter(stream.entries, ms, seq), firstIndexAfter(stream.entries, ms, seq) + count)
              .map((entry) => ({ streamId: entry.id, envelope: entry.envelope, deliveries: 1 }));
          };
          const first = take();
          if (first.length > 0 || blockMs <= 0 || closed) return first;
          await appendedTo(name, blockMs);
          return closed ? [] : take();
        },
        close: () => {
          closed = true;
          for (const wake of [...wakeOnClose]) wake();
        },
      };
    },

    claimStale: async (name, groupName, consumer, minIdleMs, count) => {
      const { stream, group } = existingGroup(name, groupName);
      const now = Date.now();
      const deliveries: Delivery[] = [];
      const missing: string[] = [];
      for (const id of [...group.pending.keys()].sort(compareStreamIds)) {
        if (deliveries.length >= count) break;
        const pending = group.pending.get(id)!;
        if (now - pending.deliveredAt < minIdleMs) continue;
        const delivery = deliver(stream, group, id, pending, consumer);
        if (delivery === undefined) missing.push(id);
        else deliveries.push(delivery);
      }
      return { deliveries, missing };
    },

    claim: async (name, groupName, consumer, ids, minIdleMs) => {
      const { stream, group } = existingGroup(name, groupName);
      const now = Date.now();
      const deliveries: Delivery[] = [];
      for (const id of ids) {
        const pending = group.pending.get(id);
        if (pending === undefined || now - pending.deliveredAt < minIdleMs) continue;
        const delivery = deliver(stream, group, id, pending, consumer);
        if (delivery !== undefined) deliveries.push(delivery);
      }
      return deliveries;
    },

    release: async (name, groupName, consumer, deliveries, idleMs) => {
      const { group } = existingGroup(name, groupName);
      const now = Date.now();
      for (const d of deliveries) {
        const pending = group.pending.get(d.streamId);
        if (pending === undefined) continue;
        pending.consumer = consumer;
        pending.deliveries = d.deliveries - 1;
        pending.deliveredAt = now - idleMs;
      }
    },

    touch: async (name, groupName, consumer, ids) => {
      const { group } = existingGroup(name, groupName);
      const now = Date.now();
      for (const id of ids) {
        const pending = group.pending.get(id);
        if (pending === undefined) continue;
        pending.consumer = consumer;
        pending.deliveredAt = now;
      }
    },

    ack: async (name, groupName, ids) => {
      const group = streams.get(name)?.groups.get(groupName);
      if (group === undefined) return;
      for (const id of ids) group.pending.delete(id);
    },

    deadLetter: async (name, groupName, delivery, deadLetterStream, { reason, maxLen }) => {
      const { group } = existingGroup(name, groupName);
      if (!group.pending.has(delivery.streamId)) return false;
      const appended = append(deadLetterStream, maxLen, {
        envelope: delivery.envelope,
        dead: { reason, group: groupName, deliveries: delivery.deliveries, originalStreamId: delivery.streamId, failedAt: new Date() },
      });
      if (appended === undefined) throw new StreamFull({ stream: deadLetterStream });
      group.pending.delete(delivery.streamId);
      return true;
    },

    readDeadLetters: async (deadLetterStream, count) =>
      (streams.get(deadLetterStream)?.entries ?? []).slice(0, count).map(
        (entry): DeadLetter => ({
          streamId: entry.id,
          envelope: entry.envelope,
          reason: entry.dead?.reason ?? "",
          group: entry.dead?.group ?? "",
          deliveries: entry.dead?.deliveries ?? 0,
          originalStreamId: entry.dead?.originalStreamId ?? "",
          failedAt: entry.dead?.failedAt ?? new Date(0),
        }),
      ),

    consumption: async (name, marker): Promise<Consumption> => {
      if (markers.get(marker.key) !== marker.token) return { _tag: "lost" };
      const stream = streams.get(name);
      const safe = stream === undefined ? undefined : consumedBefore(stream);
      return safe === undefined ? { _tag: "noGroups" } : { _tag: "before", streamId: `${safe[0]}-${safe[1]}` };
    },

    setMarker: async (marker) => {
      markers.set(marker.key, marker.token);
    },

    lastId: async (name) => {
      const stream = streamNamed(name);
      return `${stream.lastMs}-${stream.lastSeq}`;
    },
  };
}

let processBackend: StreamBackend | undefined;

/** The store every in-process bus of this process shares, so services run together see each other's events. */
export function processMemoryBackend(): StreamBackend {
  processBackend ??= memoryBackend();
  return processBackend;
}

// The id before which every group has acknowledged every entry; undefined without groups.
function consumedBefore(stream: Stream): readonly [number, number] | undefined {
  let safe: readonly [number, number] | undefined;
  for (const group of stream.groups.values()) {
    let bound: readonly [number, number] = [group.lastMs, group.lastSeq + 1];
    for (const id of group.pending.keys()) {
      const pending = parseStreamId(id);
      if (before(pending, bound)) bound = pending;
    }
    if (safe === undefined || before(bound, safe)) safe = bound;
  }
  return safe;
}

const before = (a: readonly [number, number], b: readonly [number, number]): boolean => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);

// Binary searches over entries in id order.
function firstIndexAtOrAfter(entries: ReadonlyArray<Entry>, ms: number, seq: number): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const e = entries[mid]!;
    if (e.ms < ms || (e.ms === ms && e.seq < seq)) low = mid + 1;
    else high = mid;
  }
  return low;
}

function firstIndexAfter(entries: ReadonlyArray<Entry>, ms: number, seq: number): number {
  return firstIndexAtOrAfter(entries, ms, seq + 1);
}
