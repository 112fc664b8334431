/**
 * Work done after the client has been answered (a stale tag checked upstream), at most one run
 * per key at a time: a second start while one runs joins it, so a busy tag costs one upstream
 * check, not one per request. Nobody awaits the work, so what it does not handle itself goes to
 * `unhandled` rather than crash the process.
 */
export class BackgroundWork {
  private readonly running = new Map<string, Promise<void>>();

  constructor(private readonly unhandled: (key: string, err: unknown) => void) {}

  /** Starts `work` under `key` unless a run with that key is still going; says whether it started. */
  start(key: string, work: () => Promise<void>): boolean {
    if (this.running.has(key)) return false;
    const run = work()
      .catch((err: unknown) => this.unhandled(key, err))
      .finally(() => this.running.delete(key));
    this.running.set(key, run);
    return true;
  }

  /** How many runs are going now. */
  get size(): number {
    return this.running.size;
  }

  /** Resolves once every run started so far has ended. */
  async settled(): Promise<void> {
    await Promise.all([...this.running.values()]);
  }
}
