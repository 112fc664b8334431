/**
 * The progress line of a running test, on a terminal only (stderr is a TTY): rewritten in place a
 * few times a second, erased when the test ends. Nothing is written when stderr is a file or a pipe.
 */
export class ProgressLine {
  private timer: NodeJS.Timeout | undefined;
  private text = '';

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  get enabled(): boolean {
    return this.stream.isTTY === true;
  }

  start(describe: () => string): void {
    if (!this.enabled) return;
    const draw = (): void => {
      const columns = this.stream.columns ?? 100;
      this.text = describe().slice(0, Math.max(10, columns - 1));
      this.stream.write(`\r\x1b[2K${this.text}`);
    };
    draw();
    this.timer = setInterval(draw, 250);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.enabled && this.text !== '') this.stream.write('\r\x1b[2K');
    this.text = '';
  }
}
