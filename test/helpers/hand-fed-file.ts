import type { GrowingFile } from '../../src/storage/driver.js';

/** A GrowingFile whose state a test sets by hand, announcing each change (for Driver.followStream). */
export class HandFedFile implements GrowingFile {
  written = 0;
  error: Error | undefined;
  done = false;
  where: string;
  private wake: () => void = () => undefined;
  private next = this.fresh();

  constructor(path: string) {
    this.where = path;
  }

  private fresh(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }

  announce(): void {
    const wake = this.wake;
    this.next = this.fresh();
    wake();
  }

  path = (): string => this.where;
  available = (): number => this.written;
  failure = (): Error | undefined => this.error;
  complete = (): boolean => this.done || this.error !== undefined;
  changed = (): Promise<void> => this.next;
}
