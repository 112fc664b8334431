import type { PortholeConfig } from '../config/schema.js';
import type { Job } from './job.js';

/** `restore` (being written: see issue 13). */
export function restoreJob(_config: PortholeConfig, _options: { from: string; repos: string[]; overwrite: boolean }): Job {
  throw new Error('porthole restore is not built yet');
}
