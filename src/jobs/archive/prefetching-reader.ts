import { Readable } from 'node:stream';

/** Bytes of a byte range of a blob, `end` inclusive (as the store's range chooser takes them). */
export interface ByteRange {
  start: number;
  end: number;
}

/** A blob to read: its size, and how to open a range of it (rejecting when it is gone). */
export interface PrefetchItem {
  size: number;
  open(range: ByteRange): Promise<Readable>;
}

export interface PrefetchOptions {
  /** Size of each range read on its own. */
  rangeBytes: number;
  /** Ranges read at once, the one being consumed included: what is held is at most this many ranges. */
  inFlight: number;
}

/**
 * A blob's range being read ahead: its chunks are kept until consumed (at most one range's
 * worth), and its failure until someone asks.
 */
class RangeRead {
  private readonly chunks: Buffer[] = [];
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private stream: Readable | undefined;
  private abandoned = false;

  constructor(opened: Promise<Readable>) {
    opened.then(
      (stream) => {
        if (this.abandoned) return void stream.destroy();
        this.stream = stream;
        stream.on('data', (chunk: Buffer) => this.settle(() => this.chunks.push(chunk)));
        stream.once('end', () => this.settle(() => (this.ended = true)));
        stream.once('error', (err) => this.settle(() => (this.failure = err)));
      },
      (err: Error) => this.settle(() => (this.failure = err)),
    );
  }

  private settle(change: () => void): void {
    change();
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async *drain(): AsyncGenerator<Buffer> {
    for (;;) {
      const chunk = this.chunks.shift();
      if (chunk) {
        yield chunk;
        continue;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  abandon(): void {
    this.abandoned = true;
    this.stream?.destroy();
  }
}

/**
 * Reads blobs one after the other, as consecutive ranges of which several are read at once, the
 * next blob's first ranges while the last of this one is written. The storage then always has a
 * read to serve: one stream reading a blob asks for a chunk only once the previous one was taken,
 * and from a cold page cache every chunk waited on the disk in turn (tar, with the kernel's
 * read-ahead, did not). Memory stays bounded by `inFlight` ranges whatever the blobs' sizes.
 */
export class PrefetchingReader {
  private readonly ranges: Array<{ item: number; range: ByteRange }> = [];
  /** Index in `ranges` of each item's first range. */
  private readonly firstRange: number[] = [];
  private readonly started = new Map<number, RangeRead>();
  private nextToStart = 0;

  constructor(
    private readonly items: readonly PrefetchItem[],
    private readonly options: PrefetchOptions,
  ) {
    items.forEach((item, index) => {
      this.firstRange.push(this.ranges.length);
      for (let start = 0; start < item.size; start += options.rangeBytes) {
        this.ranges.push({ item: index, range: { start, end: Math.min(item.size, start + options.rangeBytes) - 1 } });
      }
    });
  }

  /** Starts reads until `inFlight` are running ahead of range `from` (the one consumed next). */
  private fill(from: number): void {
    this.nextToStart = Math.max(this.nextToStart, from);
    while (this.nextToStart < this.ranges.length && this.nextToStart < from + this.options.inFlight) {
      const { item, range } = this.ranges[this.nextToStart] as { item: number; range: ByteRange };
      this.started.set(this.nextToStart, new RangeRead((this.items[item] as PrefetchItem).open(range)));
      this.nextToStart += 1;
    }
  }

  /** The bytes of item `index`; items are to be read in order, each once. */
  stream(index: number): Readable {
    const self = this;
    async function* chunks(): AsyncGenerator<Buffer> {
      for (let r = self.firstRange[index] ?? self.ranges.length; self.ranges[r]?.item === index; r += 1) {
        self.fill(r);
        const read = self.started.get(r) as RangeRead;
        try {
          yield* read.drain();
        } finally {
          self.started.delete(r);
        }
      }
    }
    return Readable.from(chunks(), { objectMode: false });
  }

  /** Stops every read still running ahead (the backup failed or was stopped). */
  close(): void {
    for (const read of this.started.values()) read.abandon();
    this.started.clear();
    this.nextToStart = this.ranges.length;
  }
}
