/**
 * A driver key, refused when any part of it could name something other than itself (`..`, `.`,
 * or an empty part from a leading, trailing or doubled slash). Keys come from the image store,
 * built only from validated names and digests; this is every driver's second line of defence,
 * so that a bug there can never reach outside the store's root.
 */
export function checkedStorageKey(path: string): string {
  if (path.split('/').some((part) => part === '..' || part === '.' || part === '')) throw new Error(`refusing unsafe storage path "${path}"`);
  return path;
}
