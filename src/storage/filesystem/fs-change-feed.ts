import { closeSync, openSync, watch, write } from 'node:fs';
import { join } from 'node:path';
import type { ChangeFeed } from '../driver.js';

/** Watchers of this process, by marker file: an announcement here reaches them at once. */
const localWatchers = new Map<string, Set<() => void>>();

/** The one byte each announcement writes: its change, not its content, is the news. */
const BYTE = Buffer.from('.');

/**
 * The filesystem's change feed: a marker file in the storage root (in the staging directory,
 * which backups and snapshots of the storage skip) that announcing processes write one byte to,
 * and that watchers follow with inotify (fs.watch). The write is awaited, so the kernel has
 * queued the event for every watcher before the announcing process goes on (and long before a
 * client can hear of what it did).
 */
export class FilesystemChangeFeed implements ChangeFeed {
  private readonly marker: string;
  private fd: number | undefined;

  constructor(stagingDir: string) {
    this.marker = join(stagingDir, 'changes');
  }

  /** Creates the marker when missing (kept when there: watchers follow its inode). */
  prepare(): void {
    closeSync(openSync(this.marker, 'a', 0o600));
  }

  announce(): Promise<void> {
    for (const onChange of localWatchers.get(this.marker) ?? []) onChange();
    // Written in place (not appended): the file stays one byte long however often it is written.
    if (this.fd === undefined) {
      this.prepare();
      this.fd = openSync(this.marker, 'r+');
    }
    const fd = this.fd;
    return new Promise((resolve, reject) => write(fd, BYTE, 0, 1, 0, (err) => (err ? reject(err) : resolve())));
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
