import { runCommand } from '../../test/e2e/run-command.js';

/**
 * A tmpfs of `bytes` mounted on `dir` (an empty directory), as test/integration/disk-full.test.ts
 * mounts one: a filesystem in memory, where writing costs no disk, so that an ingest there is
 * bound by hashing alone. Root only; the answer unmounts it (lazily: a process that still holds a
 * file open there does not keep it from going).
 */
export async function mountTmpfs(dir: string, bytes: number): Promise<() => Promise<void>> {
  if (process.getuid?.() !== 0) throw new Error('mounting a tmpfs needs root');
  await runCommand('mount', ['-t', 'tmpfs', '-o', `size=${Math.ceil(bytes / 1024 / 1024)}m`, 'tmpfs', dir], { timeoutMs: 30_000 });
  return async () => {
    await runCommand('umount', ['-l', dir], { timeoutMs: 30_000 });
  };
}
