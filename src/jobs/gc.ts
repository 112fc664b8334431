import type { PortholeConfig } from '../config/schema.js';
import type { Job } from './job.js';

/** `gc` (being written: see issue 13). */
export function gcJob(_config: PortholeConfig, _options: { dryRun: boolean }): Job {
  throw new Error('porthole gc is not built yet');
}
