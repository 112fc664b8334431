import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { ProtoWriter } from './proto-writer.js';
import { writeExportRequest, writeSpan, type ScopeBatch } from './span-encoding.js';

/** Writers given back are kept, up to this many, for the batches to come. */
const KEPT_WRITERS = 16;

/**
 * Writers used again from batch to batch: each grows once to the size its batches need and is
 * then reused, instead of every batch allocating (and the garbage collector freeing) fresh
 * buffers outside the heap, whose volume makes V8 run full collections more often.
 */
export class WriterPool {
  private readonly free: ProtoWriter[] = [];

  take(): ProtoWriter {
    return this.free.pop() ?? new ProtoWriter(64 * 1024);
  }

  give(writer: ProtoWriter): void {
    writer.truncate(0);
    if (this.free.length < KEPT_WRITERS) this.free.push(writer);
  }
}

/** The spans of one export request, encoded as they ended, per resource and instrumentation scope. */
export class SpanBatch {
  count = 0;
  /**
   * Keyed by the tracer's own objects: every span of a tracer shares its resource and scope
   * objects, so no key is built per span.
   */
  private readonly byResource = new Map<Resource, Map<InstrumentationScope, ProtoWriter>>();

  constructor(private readonly pool: WriterPool = new WriterPool()) {}

  add(span: ReadableSpan): void {
    let scopes = this.byResource.get(span.resource);
    if (scopes === undefined) {
      scopes = new Map();
      this.byResource.set(span.resource, scopes);
    }
    let writer = scopes.get(span.instrumentationScope);
    if (writer === undefined) {
      writer = this.pool.take();
      scopes.set(span.instrumentationScope, writer);
    }
    const before = writer.length;
    try {
      writeSpan(writer, span);
    } catch (err) {
      writer.truncate(before);
      throw err;
    }
    this.count += 1;
  }

  /**
   * The ExportTraceServiceRequest of every span added, written into `request` (emptied first):
   * a view of its memory, valid until it is written again. The batch's own writers go back to
   * the pool; the batch is spent.
   */
  body(request: ProtoWriter): Buffer {
    request.truncate(0);
    for (const [resource, scopes] of this.byResource) {
      const batches: ScopeBatch[] = [...scopes].map(([scope, writer]) => ({ scope, spans: writer.bytes() }));
      writeExportRequest(request, resource, batches);
      for (const writer of scopes.values()) this.pool.give(writer);
    }
    this.byResource.clear();
    return request.bytes();
  }
}
