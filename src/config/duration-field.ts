import { z } from 'zod';
import { isDuration } from './durations.js';

/** A config key holding a duration string (`30s`, `10m`, `30d`), with its default and description. */
export const duration = (fallback: string, description: string) =>
  z
    .string()
    .refine(isDuration, { message: 'must be a duration such as 500ms, 30s, 2m, 24h or 30d' })
    .default(fallback)
    .describe(description)
    .meta({ format: 'duration' });
