import { TraceFlags, type Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-node';
import type { PortholeLogger } from '../logger.js';
import type { OtlpHttpSender } from './otlp/http-sender.js';
import { ProtoWriter } from './otlp/proto-writer.js';
import { SpanBatch, WriterPool } from './otlp/span-batch.js';

/** Where the fate of each span is counted (porthole_tracing_spans_{exported,dropped}_total). */
export interface SpanCounts {
  exported(count: number): void;
  dropped(count: number): void;
}

/** Spans in one export request at most, and how long a batch waits for more: porthole's, and the bench floor's (bench/lib/otel-floor.ts). */
export const EXPORT_BATCH_SPANS = 512;
export const EXPORT_DELAY_MS = 1_000;

export interface SpanQueueOptions {
  sender: Pick<OtlpHttpSender, 'export' | 'abort'>;
  counts: SpanCounts;
  log: PortholeLogger;
  /** The collector's address as logs may show it (credentials taken out). */
  endpoint: string;
  /** Spans encoded and not yet exported, at most; past it new spans are dropped (and counted). */
  maxQueueSize: number;
  /** Spans in one export request, at most. */
  maxBatchSize: number;
  /** How long a batch waits for more spans before it is sent anyway. */
  delayMs: number;
}

/**
 * Between the tracer (recorder/span-recorder.ts; the SDK's span processor interface, which the
 * bench floor plugs into the SDK) and the collector. A sampled span is encoded to OTLP protobuf
 * after the turn of the event loop it ends in, into the current batch's buffer outside V8's
 * heap, and let go: spans die young instead of being held (and copied by every young-generation
 * collection) until their batch is sent, and no batch-wide object tree is built at export time.
 * A batch is sent when it holds `maxBatchSize` spans or `delayMs` after its first, one export at
 * a time.
 *
 * A span that finds `maxQueueSize` spans already waiting (a collector that is down or slow) is
 * dropped and counted, never queued or waited for, so a collector can neither slow a request
 * nor grow porthole's memory. Export failures are said once per outage, with one line when the
 * collector takes spans again, never once per batch: distribution's tracing fills logs when no
 * collector runs.
 */
export class EncodedSpanQueue implements SpanProcessor {
  private readonly pool = new WriterPool();
  /** The export request being sent: one at a time, so one writer, reused. */
  private readonly request = new ProtoWriter(256 * 1024);
  private current = new SpanBatch(this.pool);
  /** Spans ended and not yet encoded (see encodeEnded), and the array that takes the next turn's. */
  private ended: ReadableSpan[] = [];
  private spare: ReadableSpan[] = [];
  private readonly ready: SpanBatch[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  /** Spans ended (sampled) and not yet exported or dropped. */
  private waiting = 0;
  private down = false;

  constructor(private readonly options: SpanQueueOptions) {}

  get pending(): number {
    return this.waiting;
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    // Spans recorded but not sampled are never exported.
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.waiting >= this.options.maxQueueSize) {
      this.options.counts.dropped(1);
      return;
    }
    this.waiting += 1;
    this.ended.push(span);
    if (this.ended.length === 1) setImmediate(this.encodeEnded);
  }

  /**
   * The spans ended in one turn of the event loop, encoded together after it, away from the
   * requests' own work (one A/B run measured 4% less CPU per request at samplingProb 1 than
   * encoding each span as it ends; that is within the spread between processes found later, so
   * not a firm figure); a span still dies young.
   */
  private readonly encodeEnded = (): void => {
    const spans = this.ended;
    this.ended = this.spare;
    this.spare = spans;
    for (const span of spans) this.encode(span);
    spans.length = 0;
  };

  private encode(span: ReadableSpan): void {
    try {
      this.current.add(span);
    } catch (err) {
      this.waiting -= 1;
      this.options.counts.dropped(1);
      this.options.log.warn({ err, span: span.name }, 'tracing: a span could not be encoded and was dropped');
      return;
    }
    if (this.current.count >= this.options.maxBatchSize) this.seal();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.seal(), this.options.delayMs);
      this.timer.unref();
    }
  }

  /** Sends everything ended so far; resolves when it has been exported or dropped. */
  async forceFlush(): Promise<void> {
    this.encodeEnded();
    this.seal();
    while (this.sending !== undefined) await this.sending;
  }

  /** Sends what is left, then closes the collector's kept-alive connections. */
  async shutdown(): Promise<void> {
    await this.forceFlush();
    this.options.sender.abort();
  }

  /** Gives up on exports in flight (the shutdown timeout passed). */
  abort(): void {
    this.options.sender.abort();
  }

  /** The collector cannot be reached (an export failed, or nothing listens at start-up): said once per outage. */
  markDown(reason: string): void {
    if (this.down) return;
    this.down = true;
    this.options.log.warn({ endpoint: this.options.endpoint, reason }, 'tracing collector unreachable: spans are dropped until it answers');
  }

  private seal(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.current.count === 0) return;
    this.ready.push(this.current);
    this.current = new SpanBatch(this.pool);
    this.sending ??= this.sendAll();
  }

  private async sendAll(): Promise<void> {
    for (let batch = this.ready.shift(); batch !== undefined; batch = this.ready.shift()) {
      const outcome = await this.options.sender.export(batch.body(this.request)).catch((err: unknown) => ({ ok: false as const, reason: err instanceof Error ? err.message : String(err) }));
      this.waiting -= batch.count;
      if (outcome.ok) {
        this.options.counts.exported(batch.count);
        if (this.down) {
          this.down = false;
          this.options.log.info({ endpoint: this.options.endpoint }, 'tracing collector takes spans again');
        }
      } else {
        this.options.counts.dropped(batch.count);
        this.markDown(outcome.reason);
      }
    }
    this.sending = undefined;
  }
}
