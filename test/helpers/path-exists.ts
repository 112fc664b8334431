import { access } from 'node:fs/promises';

/** Whether anything is at `path` (a file, a directory). */
export function pathExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
