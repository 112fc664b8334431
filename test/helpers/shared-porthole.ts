import { after, before } from 'node:test';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from './porthole-process.js';

/**
 * One porthole for a whole test file (or describe block): started in `before`, stopped and its
 * storage root removed in `after`. Call the returned function inside tests to get the process.
 */
export function sharedPorthole(config?: string): () => PortholeProcess {
  let root: string | undefined;
  let running: PortholeProcess | undefined;

  before(async () => {
    // Created here rather than by startPorthole, so that it is removed even when the start fails.
    root = await tempDir('root');
    running = await startPorthole(config === undefined ? { root } : { root, config });
  });

  after(async () => {
    await running?.stop();
    if (root) await cleanup(root);
  });

  return () => {
    if (!running) throw new Error('porthole is not running yet: call sharedPorthole() at the top of the test file, use it inside tests');
    return running;
  };
}
