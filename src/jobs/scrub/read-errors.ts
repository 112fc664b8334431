/**
 * Errors that mean the storage failed to give the bytes back, rather than a mistake of set-up
 * (EACCES, EMFILE), so that a scrub reports the file as corrupt instead of failing: EIO (a bad
 * sector; btrfs' checksum failures too), EBADMSG and EUCLEAN (what ext4 and XFS answer for
 * checksum failures and corruption they detect), EBADE (OpenZFS on Linux's ECKSUM).
 */
const MEDIA_ERRORS = new Set(['EIO', 'EBADMSG', 'EUCLEAN', 'EBADE']);

export function isMediaError(err: unknown): boolean {
  return MEDIA_ERRORS.has((err as NodeJS.ErrnoException).code ?? '');
}

