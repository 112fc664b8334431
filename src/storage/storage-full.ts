/**
 * True when a write failed because the filesystem (or the user's quota) has no room left. Such a
 * failure is no bug: it is answered 507 with a message saying so, and what the write left behind
 * is removed at once so that the room it took comes back.
 */
export function isStorageFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
