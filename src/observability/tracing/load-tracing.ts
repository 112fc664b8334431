import type { TracingConfig } from '../../config/tracing-schema.js';
import { buildInfo } from '../build-info.js';
import type { PortholeLogger } from '../logger.js';
import type { Metrics } from '../metrics/catalogue.js';
import { disabledTracing, type Tracing } from './tracing.js';

/**
 * Tracing as configured: off, the disabled twin and not one OpenTelemetry module loaded (the SDK
 * and the exporter cost several MB of resident memory); on, the SDK, imported only now.
 */
export async function loadTracing(config: TracingConfig, log: PortholeLogger, metrics: Metrics, instanceId: string): Promise<Tracing> {
  if (!config.enable) return disabledTracing;
  const { createOtelTracing } = await import('./otel-tracing.js');
  return createOtelTracing(config, {
    log,
    version: buildInfo().version,
    instanceId,
    counts: {
      exported: (count) => metrics.tracingSpansExported.inc(count),
      dropped: (count) => metrics.tracingSpansDropped.inc(count),
    },
  });
}
