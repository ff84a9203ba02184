/**
 * The event bus's metrics, in the process's one registry. Topics are the logical names (no key prefix).
 */
import { metrics } from "../telemetry/metrics.js";

export const published = metrics.counter("events_published_total", "Events appended to their topic's stream.", ["topic"]);
export const publishFailures = metrics.counter("events_publish_failures_total", "Appends that failed, by reason (stream_full, unavailable).", [
  "topic",
  "reason",
]);
export const droppedUnconsumed = metrics.counter(
  "events_trimmed_unconsumed_total",
  "Entries trimmed by the length cap from a stream no consumer group reads.",
  ["topic"],
);
export const consumed = metrics.counter("events_consumed_total", "Events handled and acknowledged.", ["topic", "group"]);
export const duplicates = metrics.counter("events_duplicates_total", "Deliveries of events already applied, skipped by the idempotent consumer.", [
  "topic",
  "group",
]);
export const redelivered = metrics.counter("events_redelivered_total", "Deliveries after the first (handler failures, consumer crashes).", [
  "topic",
  "group",
]);
export const handlerFailures = metrics.counter("events_handler_failures_total", "Handler runs that failed, by kind (error, defect, transient).", [
  "topic",
  "group",
  "kind",
]);
export const deadLettered = metrics.counter("events_dead_lettered_total", "Events moved to the dead-letter stream.", ["topic", "group"]);
export const consumerLag = metrics.histogram(
  "events_consumer_lag_seconds",
  "Time from an event's creation to its acknowledgement by a consumer group.",
  ["topic", "group"],
  [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
);
export const outboxRows = metrics.gauge("outbox_events", "Outbox rows by state: unsent (the relay's backlog) or unconfirmed (sent, not yet acknowledged by every group).", [
  "schema",
  "state",
]);
export const relayed = metrics.counter("outbox_relayed_total", "Outbox rows published by the relay.", ["schema"]);
export const replayed = metrics.counter("outbox_replays_total", "Times the relay republished unconfirmed rows after the stream store lost its data.", ["schema"]);
export const relayErrors = metrics.counter("outbox_relay_errors_total", "Relay iterations that failed (PostgreSQL or the stream store unavailable).", ["schema"]);
