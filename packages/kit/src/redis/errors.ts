/**
 * The expected failure of the kit's Redis part: a start-up one, never sent on the wire.
 */
import { Data } from "effect";

/**
 * Redis could not be reached at start-up. `address` is `host:port`; the message never contains
 * the password.
 */
export class RedisUnavailable extends Data.TaggedError("RedisUnavailable")<{
  readonly address: string;
  readonly message: string;
}> {}
