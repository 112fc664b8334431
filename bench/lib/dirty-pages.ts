import { runCommand } from '../../test/e2e/run-command.js';

/**
 * Writes dirty pages out (sync) before a timed transfer, so that one sample does not pay for the
 * disk writes the previous one (a push to the other registry, say) left in the page cache.
 */
export async function flushDirtyPages(): Promise<void> {
  await runCommand('sync', [], { timeoutMs: 120_000 });
}
