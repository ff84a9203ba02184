/**
 * How many unary calls a server runs at once, up to a limit (MAX_CALLS_IN_FLIGHT). Past its
 * capacity a server that takes every call queues them all: each waits longer, the queues cost CPU
 * of their own, and fewer calls get through. A call over the limit is answered at once with
 * `unavailable` (which callers may retry later), before its handler runs. Streams are not counted:
 * a stream may be open for hours.
 */
export interface Admission {
  readonly limit: number;
  /** Takes a place if one is free; false when `limit` calls are running. */
  readonly tryEnter: () => boolean;
  /** Gives back a place taken by `tryEnter`. */
  readonly leave: () => void;
}

/** An admission of at most `limit` calls at once. */
export function makeAdmission(limit: number): Admission {
  let running = 0;
  return {
    limit,
    tryEnter: () => {
      if (running >= limit) return false;
      running++;
      return true;
    },
    leave: () => {
      running--;
    },
  };
}
