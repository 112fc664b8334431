import { unwatchFile, watchFile, type Stats } from 'node:fs';

/** How often a watched file is looked at. */
const WATCH_INTERVAL_MS = 1_000;

/**
 * Calls `changed` each time the file at `path` changes: new content, or a new file in its place
 * (an atomic rename, a Kubernetes secret's symlink swap). Polled with fs.watchFile, which, unlike
 * fs.watch, follows the path across renames, and (persistent: false) never keeps the process
 * alive. Returns the function that stops watching.
 */
export function watchFileChanges(path: string, changed: () => void): () => void {
  const listener = (current: Stats, previous: Stats): void => {
    if (current.mtimeMs === previous.mtimeMs && current.size === previous.size && current.ino === previous.ino) return;
    changed();
  };
  watchFile(path, { interval: WATCH_INTERVAL_MS, persistent: false }, listener);
  return () => unwatchFile(path, listener);
}
