/**
 * Log lines waiting for their write, encoded (UTF-8) as they come into memory outside the
 * JavaScript heap. Held as strings for the milliseconds a batch waits, a busy server's lines
 * outlived young-generation collections, each of which copied them; copied out at once, a line's
 * string dies young. And the batch is one buffer that write(2) takes as it is, where a string
 * batch was scanned for its UTF-8 length by sonic-boom and encoded again by node.
 */
export class LineBatch {
  private readonly capacity: number;
  /**
   * Where lines are encoded: batch after batch, each taken as a view of its part, until the next
   * line might not fit, when another buffer of `capacity` bytes takes over (a quiet server's
   * lines, a few to a batch, share one buffer). None until the first line.
   */
  private buffer: Buffer | undefined;
  /** Where the batch waiting begins in `buffer`, and where it ends. */
  private start = 0;
  private used = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Bytes waiting. */
  get bytes(): number {
    return this.used - this.start;
  }

  /**
   * Whether `line` is sure to fit in the batch (UTF-8 takes at most three bytes per UTF-16
   * unit): anything up to `capacity` fits an empty one.
   */
  fits(line: string): boolean {
    const room = this.used === this.start || this.buffer === undefined ? this.capacity : this.buffer.length - this.used;
    return line.length * 3 <= room;
  }

  /** Adds a line that fits. */
  add(line: string): void {
    if (this.buffer === undefined || line.length * 3 > this.buffer.length - this.used) {
      this.buffer = Buffer.allocUnsafeSlow(this.capacity);
      this.start = 0;
      this.used = 0;
    }
    this.used += this.buffer.write(line, this.used);
  }

  /**
   * The lines waiting, as one buffer that is the caller's from now on (a write may hold it for a
   * while: later lines go elsewhere), and an empty batch; undefined when none wait.
   */
  take(): Buffer | undefined {
    if (this.buffer === undefined || this.used === this.start) return undefined;
    const taken = this.buffer.subarray(this.start, this.used);
    this.start = this.used;
    return taken;
  }
}
