/**
 * Traces: an OpenTelemetry span for every RPC the server handles, with W3C
 * `traceparent`/`tracestate` taken from the request and handed to handlers
 * for their own outgoing calls and events. Off unless a tracer provider is
 * installed ({@link layerTracing} with OTEL_EXPORTER_OTLP_ENDPOINT set, or a
 * test exporter), and then it costs one boolean check per call.
 */
import {
  context as otelContext,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context as OtelContext,
  type Span,
  type TextMapGetter,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  SimpleSpanProcessor,
  TracerProvider,
  type SpanExporter,
} from "@opentelemetry/sdk-trace";
import { Code } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { Config, Effect, Layer } from "effect";
import { readConfig, type ConfigInvalid } from "../config.js";

let enabled = false;
const w3c = new W3CTraceContextPropagator();
const tracer = () => trace.getTracer("@meridian/kit");

/** True when spans are recorded and exported. */
export function tracingEnabled(): boolean {
  return enabled;
}

const headerGetter: TextMapGetter<Headers> = {
  keys: (carrier) => [...carrier.keys()],
  get: (carrier, key) => carrier.get(key) ?? undefined,
};

/** Starts the server span of an RPC, child of the caller's `traceparent` if any; undefined when tracing is off. */
export function startServerSpan(
  method: { readonly service: string; readonly name: string },
  protocol: string,
  header: Headers,
): Span | undefined {
  if (!enabled) return undefined;
  const parent = w3c.extract(ROOT_CONTEXT, header, headerGetter);
  return tracer().startSpan(
    `${method.service}/${method.name}`,
    {
      kind: SpanKind.SERVER,
      attributes: {
        "rpc.system": protocol === "connect" ? "connect_rpc" : "grpc",
        "rpc.service": method.service,
        "rpc.method": method.name,
        "meridian.protocol": protocol,
      },
    },
    parent,
  );
}

/** Ends a server span with the call's outcome (per the OpenTelemetry RPC conventions). */
export function endServerSpan(span: Span, code: Code | "ok", correlationId: string): void {
  span.setAttribute("meridian.correlation_id", correlationId);
  if (code === "ok") {
    span.setAttribute("rpc.grpc.status_code", 0);
  } else {
    span.setAttribute("rpc.grpc.status_code", code);
    span.setAttribute("rpc.connect_rpc.error_code", codeToString(code));
    if (isServerFault(code)) span.setStatus({ code: SpanStatusCode.ERROR, message: codeToString(code) });
  }
  span.end();
}

/** Starts a span of another kind (client call, event publish or consume) under a parent `traceparent`. */
export function startSpan(
  name: string,
  kind: "client" | "producer" | "consumer" | "internal",
  parent: Record<string, string> | undefined,
  attributes: Record<string, string | number | boolean> = {},
): Span | undefined {
  if (!enabled) return undefined;
  const parentContext = parent === undefined ? ROOT_CONTEXT : w3c.extract(ROOT_CONTEXT, parent, recordGetter);
  const spanKind = { client: SpanKind.CLIENT, producer: SpanKind.PRODUCER, consumer: SpanKind.CONSUMER, internal: SpanKind.INTERNAL }[kind];
  return tracer().startSpan(name, { kind: spanKind, attributes }, parentContext);
}

const recordGetter: TextMapGetter<Record<string, string>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

/**
 * The trace headers to send on from within a call: the span's own context when
 * tracing is on, otherwise the caller's `traceparent`/`tracestate` unchanged.
 */
export function traceHeadersOf(span: Span | undefined, incoming: Headers): Record<string, string> {
  const carrier: Record<string, string> = {};
  if (span !== undefined) {
    w3c.inject(trace.setSpan(otelContext.active() as OtelContext, span), carrier, {
      set: (c, key, value) => void (c[key] = value),
    });
    return carrier;
  }
  const traceparent = incoming.get("traceparent");
  if (traceparent !== null) carrier.traceparent = traceparent;
  const tracestate = incoming.get("tracestate");
  if (tracestate !== null) carrier.tracestate = tracestate;
  return carrier;
}

function isServerFault(code: Code): boolean {
  return (
    code === Code.Unknown ||
    code === Code.DeadlineExceeded ||
    code === Code.Unimplemented ||
    code === Code.Internal ||
    code === Code.Unavailable ||
    code === Code.DataLoss
  );
}

/** Installs a tracer provider exporting to `exporter` for the Layer's lifetime; flushes and removes it on release. */
export function layerTracingTo(
  exporter: SpanExporter,
  options: { readonly serviceName: string; readonly batch?: boolean },
): Layer.Layer<never> {
  return Layer.effectDiscard(
    Effect.acquireRelease(
      Effect.sync(() => {
        const provider = new TracerProvider({
          resource: resourceFromAttributes({ "service.name": options.serviceName }),
          spanProcessors: [options.batch === false ? new SimpleSpanProcessor({ exporter }) : new BatchSpanProcessor({ exporter })],
        });
        trace.setGlobalTracerProvider(provider);
        propagation.setGlobalPropagator(w3c);
        enabled = true;
        return provider;
      }),
      (provider) =>
        Effect.promise(async () => {
          enabled = false;
          await provider.forceFlush().catch(() => undefined);
          await provider.shutdown().catch(() => undefined);
          trace.disable();
          propagation.disable();
        }),
    ),
  );
}

/** OTEL_EXPORTER_OTLP_ENDPOINT (unset: tracing off) and OTEL_SERVICE_NAME. */
export const tracingConfig = Config.all({
  endpoint: Config.String("OTEL_EXPORTER_OTLP_ENDPOINT").pipe(Config.withDefault<string | undefined>(undefined)),
  serviceName: Config.String("OTEL_SERVICE_NAME").pipe(Config.withDefault<string | undefined>(undefined)),
});

/** Exports spans over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise tracing stays off. */
export function layerTracing(defaultServiceName: string): Layer.Layer<never, ConfigInvalid> {
  return Layer.unwrap(
    Effect.map(readConfig(tracingConfig), ({ endpoint, serviceName }) => {
      if (endpoint === undefined || endpoint === "") return Layer.empty;
      return Layer.unwrap(
        Effect.promise(async () => {
          const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
          const url = endpoint.endsWith("/v1/traces") ? endpoint : `${endpoint.replace(/\/$/, "")}/v1/traces`;
          return layerTracingTo(new OTLPTraceExporter({ url }), { serviceName: serviceName ?? defaultServiceName });
        }),
      );
    }),
  );
}
