import { utimes } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { FilesystemChangeFeed } from '../../src/storage/filesystem/fs-change-feed.js';

/**
 * How long serve is given to hear an announcement: inotify delivers it within a millisecond or
 * so, and serve's event loop takes it at its next turn.
 */
const HEARD_MS = 100;

/**
 * Sets files' mtimes `ageMs` into the past, as if written then and never used since, and tells
 * serve so, as any process that changes porthole's storage behind its back must: serve keeps what
 * it saw of blobs (their use marks among it) until a change is announced (docs/storage.md).
 */
export async function backdate(root: string, paths: string[], ageMs: number): Promise<void> {
  const then = new Date(Date.now() - ageMs);
  for (const path of paths) await utimes(path, then, then);
  await new FilesystemChangeFeed(root).announce();
  await sleep(HEARD_MS);
}
