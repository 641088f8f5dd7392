import type { Langfuse, Span } from '@beacon/core';
import { isLangfuseSpan, LangfuseSpanProcessor } from '@langfuse/otel';
import { LangfuseOtelSpanAttributes, setLangfuseTracerProvider, startObservation } from '@langfuse/tracing';
import type { TracerProvider } from '@opentelemetry/api';
import type { TokenUsage } from '../domain/prices';

/**
 * Langfuse's OpenTelemetry pipeline on the proxy's tracer provider: only Langfuse's own observations go to
 * Langfuse (the generations below), batched, over OTLP/HTTP to `<url>/api/public/otel` with Basic auth.
 */
export const langfuseProcessor = (lf: Langfuse) =>
  new LangfuseSpanProcessor({
    publicKey: lf.publicKey,
    secretKey: lf.secretKey,
    baseUrl: lf.url,
    exportMode: 'batched',
    flushInterval: 1,
    shouldExportSpan: ({ otelSpan }) => isLangfuseSpan(otelSpan),
  });

export interface Generation {
  /** The proxy's span of the call: the generation is its child, in the dispatch's trace. */
  parent: Span;
  startTime: Date;
  provider: string;
  model: string;
  user: string;
  handle: string | null;
  usage: TokenUsage;
  costUsd: number;
  status: string;
  httpStatus: number;
  /** Only with BEACON_LANGFUSE_CAPTURE_PROMPTS=true. */
  input?: unknown;
  output?: unknown;
}

/** Each call as one Langfuse generation: session = the container's handle, user = the key's owner. */
export function createGenerations(provider: TracerProvider, capturePrompts: boolean) {
  setLangfuseTracerProvider(provider);
  return {
    record(g: Generation) {
      const failed = g.status !== 'ok';
      const generation = startObservation(
        `${g.provider} ${g.model}`,
        {
          model: g.model,
          usageDetails: {
            input: g.usage.input,
            output: g.usage.output,
            cache_read_input_tokens: g.usage.cacheRead,
            cache_creation_input_tokens: g.usage.cacheWrite,
          },
          costDetails: { total: g.costUsd },
          metadata: { status: g.status, httpStatus: g.httpStatus },
          ...(failed ? { level: 'ERROR' as const, statusMessage: `${g.status} (HTTP ${g.httpStatus})` } : {}),
          ...(capturePrompts ? { input: g.input, output: g.output } : {}),
        },
        { asType: 'generation', parentSpanContext: g.parent.spanContext(), startTime: g.startTime },
      );
      generation.otelSpan.setAttributes({
        [LangfuseOtelSpanAttributes.TRACE_USER_ID]: g.user,
        ...(g.handle ? { [LangfuseOtelSpanAttributes.TRACE_SESSION_ID]: g.handle } : {}),
      });
      generation.end();
    },
  };
}

export type Generations = ReturnType<typeof createGenerations>;
