/**
 * User metadata holding when an object was written or marked used (ms since the epoch). S3 dates
 * a copy anew, so its LastModified would make a moved object look just written (and garbage
 * collection, which parks content by moving it, would never find any unused); this date travels
 * with the copy, as a file's mtime does with a rename.
 */
export const WRITTEN_AT = 'porthole-written';

/** Metadata for an object written now. */
export function writtenNow(): Record<string, string> {
  return { [WRITTEN_AT]: String(Date.now()) };
}
