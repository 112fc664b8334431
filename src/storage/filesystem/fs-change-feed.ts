import { openSync, watch, write, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChangeFeed } from '../driver.js';

/** Watchers of this process, by marker file: an announcement here reaches them at once. */
const localWatchers = new Map<string, Set<() => void>>();

/** The one byte each announcement writes: its change, not its content, is the news. */
const BYTE = Buffer.from('.');

/** The marker's name in the storage root. */
export const CHANGES_MARKER = 'changes';

/**
 * The filesystem's change feed: a one-byte marker file in the storage root that announcing
 * processes write their byte to again, and that watchers follow with inotify (fs.watch). The
 * write is awaited, so the kernel has queued the event for every watcher before the announcing
 * process goes on (and long before a client can hear of what it did).
 */
export class FilesystemChangeFeed implements ChangeFeed {
  private readonly marker: string;
  private fd: number | undefined;

  constructor(root: string) {
    this.marker = join(root, CHANGES_MARKER);
  }

  /**
   * Creates the marker when missing, with its byte: rewriting a byte in place never needs room,
   * so a job can still announce on a full disk. An existing marker is kept: watchers follow its
   * inode.
   */
  prepare(): void {
    try {
      writeFileSync(this.marker, '.', { flag: 'wx', mode: 0o600 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }

  announce(): Promise<void> {
    for (const onChange of localWatchers.get(this.marker) ?? []) onChange();
    const fd = this.markerFd();
    if (fd === undefined) return Promise.resolve();
    // Written in place (not appended): the file stays one byte long however often it is written.
    return new Promise((resolve, reject) => write(fd, BYTE, 0, 1, 0, (err) => (err ? reject(err) : resolve())));
  }

  /**
   * The marker, open for writing; undefined when it is not there and cannot be made (a full
   * disk): then no other process can be watching it either, and there is nobody to tell.
   */
  private markerFd(): number | undefined {
    if (this.fd !== undefined) return this.fd;
    try {
      this.prepare();
    } catch {
      // Checked below: whether a marker is there at all.
    }
    try {
      this.fd = openSync(this.marker, 'r+');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return this.fd;
  }

  watch(onChange: () => void, onLost: (err: Error) => void): () => void {
    const watcher = watch(this.marker, { persistent: false }, () => onChange());
    let local = localWatchers.get(this.marker);
    if (!local) localWatchers.set(this.marker, (local = new Set()));
    local.add(onChange);
    const stop = (): void => {
      watcher.close();
      local.delete(onChange);
    };
    watcher.on('error', (err) => {
      stop();
      onLost(err);
    });
    return stop;
  }
}
