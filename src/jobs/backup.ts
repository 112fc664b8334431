import type { PortholeConfig } from '../config/schema.js';
import type { Job } from './job.js';

/** `backup` (being written: see issue 13). */
export function backupJob(_config: PortholeConfig, _options: { to: string; repos: string[] }): Job {
  throw new Error('porthole backup is not built yet');
}
