/**
 * Event types: a topic named `meridian.<domain>.<event>` and the proto message of its payload.
 */
import type { Message } from "@bufbuild/protobuf";
import type { GenMessage } from "@bufbuild/protobuf/codegenv2";

/** One kind of event: where it is published and what its payload is. */
export interface EventType<A extends Message> {
  /** e.g. "meridian.trading.order.filled" */
  readonly topic: string;
  readonly schema: GenMessage<A>;
}

const topicPattern = /^meridian(\.[a-z][a-z0-9_]*){2,}$/;

/**
 * Declares an event type, e.g. `defineEvent("meridian.trading.order.filled", OrderFilledSchema)`;
 * throws (a bug, at import time) when the topic is not `meridian.<domain>.<event>`.
 */
export function defineEvent<A extends Message>(topic: string, schema: GenMessage<A>): EventType<A> {
  if (!topicPattern.test(topic) || topic.endsWith(".dlq")) {
    throw new TypeError(`event topic "${topic}" is not meridian.<domain>.<event> (lower case, dot separated)`);
  }
  return { topic, schema };
}

/** The dead-letter stream of a topic: `<topic>.dlq`. */
export function deadLetterTopic(topic: string): string {
  return `${topic}.dlq`;
}
