/**
 * Faults for tests of the event machinery: a stream store that loses acknowledgements (a consumer
 * killed between commit and ack), appends some entries twice (a relay republishing), and can be
 * swapped for an empty one (an in-process bus whose process restarted). Tests only.
 */
import type { StreamBackend } from "./backend.js";

/** What goes wrong, and how often (0 to 1). */
export interface Faults {
  /** Share of acknowledgements silently dropped. */
  dropAckRate: number;
  /** Share of appends written twice. */
  duplicateAppendRate: number;
}

/** A store delegating to `current()`, with faults; `faults` may be changed while it runs. */
export function faultyBackend(current: () => StreamBackend, faults: Faults): StreamBackend {
  const chance = (rate: number) => rate > 0 && Math.random() < rate;
  return {
    append: async (stream, envelopes, options) => {
      const result = await current().append(stream, envelopes, options);
      const again = envelopes.slice(0, result.streamIds.length).filter(() => chance(faults.duplicateAppendRate));
      if (again.length > 0) await current().append(stream, again, options);
      return result;
    },
    ensureGroup: (...args) => current().ensureGroup(...args),
    openReader: async () => {
      // Readers follow the store when it is swapped, like a reconnecting client.
      let store = current();
      let reader = await store.openReader();
      return {
        readNew: async (...args) => {
          if (store !== current()) {
            reader.close();
            store = current();
            reader = await store.openReader();
          }
          return reader.readNew(...args);
        },
        close: () => reader.close(),
      };
    },
    claimStale: (...args) => current().claimStale(...args),
    claim: (...args) => current().claim(...args),
    release: (...args) => current().release(...args),
    touch: (...args) => current().touch(...args),
    ack: async (stream, group, ids) => {
      const kept = ids.filter(() => !chance(faults.dropAckRate));
      if (kept.length > 0) await current().ack(stream, group, kept);
    },
    deadLetter: (...args) => current().deadLetter(...args),
    readDeadLetters: (...args) => current().readDeadLetters(...args),
    consumption: (...args) => current().consumption(...args),
    setMarker: (...args) => current().setMarker(...args),
  };
}
