import { z } from 'zod';
import { duration } from './duration-field.js';
import { hasUserinfo, isHttpUrl } from './url-fields.js';

/** An http(s) URL, as the OTLP/HTTP exporter takes it. */
const httpUrl = z.string().refine((text) => isHttpUrl(text) && !hasUserinfo(text), {
  message: 'must be an http:// or https:// URL without credentials, such as http://127.0.0.1:4318/v1/traces (give an API key in tracing.headers)',
});

/**
 * OpenTelemetry tracing (docs/tracing.md). Off by default, and then nothing of OpenTelemetry is
 * even loaded. Environment variables and flags override this section (see cli/tracing-options.ts).
 */
export const tracingSchema = z
  .object({
    enable: z.boolean().default(false).describe('Export traces of requests, storage and pull-through work over OTLP/HTTP; off loads no tracing code at all.'),
    endpoint: httpUrl.default('http://127.0.0.1:4318/v1/traces').describe('The OTLP/HTTP traces endpoint: Jaeger, Tempo or an OpenTelemetry collector.'),
    samplingProb: z
      .number()
      .min(0)
      .max(1)
      .default(0.3)
      .describe('Share of new traces recorded (0 to 1); a request that carries a traceparent follows its sampled flag instead.'),
    serviceName: z.string().min(1).default('porthole').describe('service.name of the traces, as the tracing UI lists them.'),
    headers: z
      .record(z.string(), z.string())
      .default({})
      .describe('Extra HTTP headers of each export (an API key); their values are never logged.'),
    attributes: z
      .record(z.string(), z.string())
      .default({})
      .describe('Resource attributes added to every trace (deployment.environment, ...).'),
    exportTimeout: duration('10s', 'How long one export may take before its spans are dropped (and counted).'),
    maxQueueSize: z
      .number()
      .int()
      .min(1)
      .default(2048)
      .describe('Spans waiting for export, at most; past it new spans are dropped (and counted), never waited for.'),
  })
  .strict()
  .prefault({})
  .describe('OpenTelemetry tracing (see docs/tracing.md).');

export type TracingConfig = z.output<typeof tracingSchema>;
