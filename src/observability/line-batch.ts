/**
 * Log lines waiting for their write, encoded (UTF-8) as they come into memory outside the
 * JavaScript heap. Held as strings for the milliseconds a batch waits, a busy server's lines
 * outlived young-generation collections, each of which copied them; copied out at once, a line's
 * string dies young. And the batch is one buffer that write(2) takes as it is, where a string
 * batch was scanned for its UTF-8 length by sonic-boom and encoded again by node.
 */
export class LineBatch {
  private readonly capacity: number;
  /** Allocated on the first line after each take(): a process that logs nothing holds none. */
  private buffer: Buffer | undefined;
  private used = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Bytes waiting. */
  get bytes(): number {
    return this.used;
  }

  /** Whether `line` is sure to fit in what is left: UTF-8 takes at most three bytes per UTF-16 unit. */
  fits(line: string): boolean {
    return line.length * 3 <= this.capacity - this.used;
  }

  /** Adds a line that fits. */
  add(line: string): void {
    this.buffer ??= Buffer.allocUnsafeSlow(this.capacity);
    this.used += this.buffer.write(line, this.used);
  }

  /**
   * The lines waiting, as one buffer that is the caller's from now on (a write may hold it for a
   * while), and an empty batch; undefined when none wait.
   */
  take(): Buffer | undefined {
    if (this.buffer === undefined || this.used === 0) return undefined;
    const taken = this.buffer.subarray(0, this.used);
    this.buffer = undefined;
    this.used = 0;
    return taken;
  }
}
