import pino, { type DestinationStream, type Logger } from 'pino';
import type { PortholeConfig } from '../config/schema.js';
import { REDACT_PATHS } from './redact.js';

/** pino's levels plus `panic` above fatal, so the seven levels of `log.level` all exist. */
const CUSTOM_LEVELS = { panic: 70 } as const;
export type PortholeLogger = Logger<keyof typeof CUSTOM_LEVELS>;

/**
 * The root logger. Every line has `time` (ISO 8601, milliseconds), `level` (its name) and `msg`;
 * each module logs through `logger.child({ module })` so that every line also names its module.
 */
export function createLogger(config: Pick<PortholeConfig['log'], 'level'>, destination: DestinationStream): PortholeLogger {
  return pino(
    {
      level: config.level,
      customLevels: CUSTOM_LEVELS,
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
      base: null,
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    },
    destination,
  );
}
