import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from './porthole-process.js';

/**
 * One porthole for a whole test file: started in `before`, stopped and its temp dirs removed in
 * `after`. The config file is written here (not through startPorthole's `config`) so that its
 * directory is removed too. Call the returned function inside tests to get the running process.
 */
export function sharedPorthole(config?: string): () => PortholeProcess {
  let running: PortholeProcess | undefined;
  let configDir: string | undefined;

  before(async () => {
    const args: string[] = [];
    if (config !== undefined) {
      configDir = await tempDir('config');
      const file = join(configDir, 'porthole.yaml');
      await writeFile(file, config);
      args.push('--config', file);
    }
    running = await startPorthole({ args });
  });

  after(async () => {
    if (running) {
      await running.stop();
      await cleanup(running.root);
    }
    if (configDir) await cleanup(configDir);
  });

  return () => {
    if (!running) throw new Error('porthole is not running: sharedPorthole() must be called at the top level of a test file');
    return running;
  };
}
