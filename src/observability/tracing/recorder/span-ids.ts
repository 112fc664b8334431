import { randomFillSync } from 'node:crypto';

/** Random bytes are drawn this many at a time: one call into the system's generator per ~170 spans. */
const POOL_BYTES = 4096;
const INVALID_TRACE_ID = '0'.repeat(32);
const INVALID_SPAN_ID = '0'.repeat(16);

/**
 * W3C trace and span ids, as lowercase hex, from a cryptographic generator read in blocks (the
 * OpenTelemetry SDK uses Math.random a byte at a time). An all-zero id is invalid in W3C trace
 * context and is drawn again.
 */
export class RandomIds {
  private readonly pool = Buffer.allocUnsafe(POOL_BYTES);
  private offset = POOL_BYTES;

  traceId(): string {
    for (;;) {
      const id = this.hex(16);
      if (id !== INVALID_TRACE_ID) return id;
    }
  }

  spanId(): string {
    for (;;) {
      const id = this.hex(8);
      if (id !== INVALID_SPAN_ID) return id;
    }
  }

  private hex(size: number): string {
    if (this.offset + size > POOL_BYTES) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const start = this.offset;
    this.offset += size;
    return this.pool.toString('hex', start, start + size);
  }
}
