import { closeSync, openSync } from 'node:fs';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { PortholeConfig } from '../config/schema.js';

/** pino's levels plus `panic` above fatal, so the seven levels of zot's `log.level` all exist. */
const CUSTOM_LEVELS = { panic: 70 } as const;
export type PortholeLogger = Logger<keyof typeof CUSTOM_LEVELS>;

export function logDestination(output: string): DestinationStream {
  if (output === 'stdout') return pino.destination({ dest: 1, sync: false });
  if (output === 'stderr') return pino.destination({ dest: 2, sync: false });
  // Created (mode 0600) and checked synchronously, so that an unwritable path stops startup
  // with a clear error before the server listens; pino then appends to it.
  closeSync(openSync(output, 'a', 0o600));
  return pino.destination({ dest: output, append: true, mkdir: false, sync: false });
}

export function createLogger(config: PortholeConfig['log'], destination: DestinationStream = logDestination(config.output)): PortholeLogger {
  return pino(
    {
      level: config.level,
      customLevels: CUSTOM_LEVELS,
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
      base: null,
    },
    destination,
  );
}
