import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { TraceFlags, type Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-node';
import type { PortholeLogger } from '../logger.js';

/** Where the fate of each span is counted (porthole_tracing_spans_{exported,dropped}_total). */
export interface SpanCounts {
  exported(count: number): void;
  dropped(count: number): void;
}

/**
 * Wraps the OTLP exporter: counts what each export delivered or lost, and says so in the log
 * once per outage (a line when the collector stops taking spans, one when it takes them again),
 * never once per batch: distribution's tracing fills logs when no collector runs.
 */
export class CountingExporter implements SpanExporter {
  private down = false;
  /** Spans handed to an export whose outcome is not known yet. */
  private exporting = 0;

  constructor(
    private readonly inner: SpanExporter,
    private readonly counts: SpanCounts,
    private readonly log: PortholeLogger,
    private readonly endpoint: string,
  ) {}

  /** Spans queued or being exported: what the bound of BoundedSpanQueue counts against. */
  get pending(): number {
    return this.exporting;
  }

  begin(count: number): void {
    this.exporting += count;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    // Only the count outlives the call: the spans themselves are let go once serialized, not
    // held (and copied by every young-generation collection) until the collector answers.
    const count = spans.length;
    this.inner.export(spans, (result) => {
      this.exporting -= count;
      if (result.code === ExportResultCode.SUCCESS) {
        this.counts.exported(count);
        if (this.down) {
          this.down = false;
          this.log.info({ endpoint: this.endpoint }, 'tracing collector takes spans again');
        }
      } else {
        this.counts.dropped(count);
        this.markDown(result.error?.message ?? 'export failed');
      }
      resultCallback(result);
    });
  }

  /** The collector cannot be reached (an export failed, or nothing listens at start-up): said once per outage. */
  markDown(reason: string): void {
    if (this.down) return;
    this.down = true;
    this.log.warn({ endpoint: this.endpoint, reason }, 'tracing collector unreachable: spans are dropped until it answers');
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/**
 * In front of the batch processor: a sampled span that finds `maxQueueSize` spans already waiting
 * (a collector that is down or slow) is dropped and counted, never queued or waited for, so a
 * collector can neither slow a request nor grow porthole's memory. The batch processor's own
 * queue has the same size, so it never drops anything uncounted.
 */
export class BoundedSpanQueue implements SpanProcessor {
  constructor(
    private readonly batches: SpanProcessor,
    private readonly exporter: CountingExporter,
    private readonly counts: SpanCounts,
    private readonly maxQueueSize: number,
  ) {}

  onStart(span: Span, parentContext: Context): void {
    this.batches.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    // Spans recorded but not sampled are never exported (the batch processor skips them too).
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.exporter.pending >= this.maxQueueSize) {
      this.counts.dropped(1);
      return;
    }
    this.exporter.begin(1);
    this.batches.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.batches.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.batches.shutdown();
  }
}
