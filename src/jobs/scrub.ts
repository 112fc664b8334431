import type { PortholeConfig } from '../config/schema.js';
import type { Job } from './job.js';

/** `scrub` (being written: see issue 13). */
export function scrubJob(_config: PortholeConfig): Job {
  throw new Error('porthole scrub is not built yet');
}
