import type { LOG_LEVELS } from '../../src/config/schema.js';
import { createLogger, type PortholeLogger } from '../../src/observability/logger.js';

/** A porthole logger writing into an array, one parsed object per line. */
export function memoryLogger(level: (typeof LOG_LEVELS)[number]): { logger: PortholeLogger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = {
    write(text: string) {
      for (const line of text.split('\n').filter((l) => l !== '')) lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  };
  return { logger: createLogger({ level }, destination), lines };
}
