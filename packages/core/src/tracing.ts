import {
  type Attributes,
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { type ExportResult, ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  RandomIdGenerator,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { KernelResult } from './contracts';
import type { Probe } from './health';

export type { Span } from '@opentelemetry/api';
export { SpanKind } from '@opentelemetry/api';
export type { SpanProcessor } from '@opentelemetry/sdk-trace-base';

const propagator = new W3CTraceContextPropagator();

export interface TracingOptions {
  service: string;
  version: string;
  /** BEACON_OTLP_URL: the collector's base URL; spans go to `<url>/v1/traces` (OTLP/HTTP, JSON). */
  otlpUrl?: string | undefined;
  /** Further processors on the same spans (the proxy's Langfuse processor). */
  processors?: SpanProcessor[];
  /** Counts a failed export (the service's `<service>_trace_export_failures_total`). */
  onExportFailed?: () => void;
}

export interface SpanStart {
  /** A W3C `traceparent` from the caller (HTTP header or NATS header): the span joins that trace. */
  traceparent?: string | undefined;
  /** Or the span inside this process it belongs under. */
  parent?: Span;
  kind?: SpanKind;
  attributes?: Attributes;
}

/** The exporter, reporting how its last export went (for /health) and counting failures. */
class WatchedExporter implements SpanExporter {
  lastFailure: { at: number; message: string } | undefined;
  constructor(
    private readonly inner: SpanExporter,
    private readonly onFailed: () => void,
  ) {}
  export(spans: ReadableSpan[], done: (result: ExportResult) => void) {
    this.inner.export(spans, (result) => {
      if (result.code === ExportResultCode.SUCCESS) this.lastFailure = undefined;
      else {
        this.onFailed();
        this.lastFailure = { at: Date.now(), message: String(result.error ?? 'export failed') };
      }
      done(result);
    });
  }
  shutdown = () => this.inner.shutdown();
  forceFlush = () => this.inner.forceFlush?.() ?? Promise.resolve();
}

/**
 * OpenTelemetry for one service: spans always get W3C ids (they travel as `traceparent` even when nothing
 * is exported); with an OTLP URL they are batched to the collector. Contexts are passed explicitly
 * (a parent span or a traceparent), never through a global context manager.
 */
export function createTracing({
  service,
  version,
  otlpUrl,
  processors = [],
  onExportFailed,
}: TracingOptions) {
  const exporter = otlpUrl
    ? new WatchedExporter(
        new OTLPTraceExporter({ url: `${otlpUrl.replace(/\/$/, '')}/v1/traces`, timeoutMillis: 5000 }),
        onExportFailed ?? (() => {}),
      )
    : undefined;
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': `beacon-${service}`, 'service.version': version }),
    spanProcessors: [
      ...(exporter ? [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1000 })] : []),
      ...processors,
    ],
  });
  const tracer = provider.getTracer('beacon', version);
  const exporting = exporter !== undefined || processors.length > 0;
  const ids = new RandomIdGenerator();

  return {
    provider,
    exporting,
    start(name: string, { traceparent, parent, kind = SpanKind.INTERNAL, attributes }: SpanStart = {}): Span {
      const context = parent
        ? trace.setSpan(ROOT_CONTEXT, parent)
        : traceparent
          ? propagator.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter)
          : ROOT_CONTEXT;
      // Nothing takes the spans: only their ids, to pass on (a recorded span costs the proxy ~100 µs a call).
      if (!exporting)
        return trace.wrapSpanContext({
          traceId: trace.getSpanContext(context)?.traceId ?? ids.generateTraceId(),
          spanId: ids.generateSpanId(),
          traceFlags: 1,
        });
      return tracer.startSpan(name, { kind, ...(attributes ? { attributes } : {}) }, context);
    },
    /** The collector's last word, for /health: degraded while exports fail. */
    probe: exporter
      ? ({
          name: 'traces',
          check: async () => {
            const failure = exporter.lastFailure;
            if (failure && Date.now() - failure.at < 60_000)
              return { status: 'degraded', message: `spans not exported: ${failure.message}` };
          },
        } satisfies Probe)
      : undefined,
    /** Export what is buffered (at shutdown, and in tests). */
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

export type Tracing = ReturnType<typeof createTracing>;

/** The W3C `traceparent` naming `span` as the parent of what is called next. */
export function traceparentOf(span: Span): string {
  const carrier: Record<string, string> = {};
  propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
  return carrier.traceparent ?? '';
}

/** The ids a log line carries, so Loki/Grafana can open its trace. */
export function traceFields(span: Span): { traceId: string; spanId: string } {
  const { traceId, spanId } = span.spanContext();
  return { traceId, spanId };
}

/** A kernel's answer as span attributes (the kernel's run, the gateway's dispatch). */
export const resultAttributes = ({ model, usage }: Pick<KernelResult, 'model' | 'usage'>): Attributes => ({
  'gen_ai.response.model': model,
  'gen_ai.usage.input_tokens': usage.inputTokens,
  'gen_ai.usage.output_tokens': usage.outputTokens,
  'beacon.cost_usd': usage.costUsd,
});

/** Ends a span, marked as an error with `error`'s text when given. */
export function endSpan(span: Span, error?: string, attributes?: Attributes): void {
  if (attributes) span.setAttributes(attributes);
  if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
  span.end();
}
