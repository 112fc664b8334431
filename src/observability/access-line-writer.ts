import pino, { type Logger } from 'pino';

const { chindingsSym, endSym, lsCacheSym, streamSym, timeSym } = pino.symbols;

/** The fields of an access line: strings, finite numbers and booleans (access-log.ts builds it). */
export type AccessFields = Record<string, string | number | boolean | undefined>;

/** One of the parts of a line pino has made ready for every line of `logger`. */
function internal<T>(logger: object, symbol: symbol): T {
  return (logger as unknown as Record<symbol, T>)[symbol] as T;
}

/** `,"key":`, made once per key: pino escapes every key of every line again. */
const keyPrefixes = new Map<string, string>();

function keyPrefix(key: string): string {
  let prefix = keyPrefixes.get(key);
  if (prefix === undefined) {
    prefix = `,${JSON.stringify(key)}:`;
    keyPrefixes.set(key, prefix);
  }
  return prefix;
}

/**
 * Writes access lines byte for byte as `logger[level](fields, msg)` would (the same level,
 * time, bindings, field order and destination), without pino's general-purpose serializer: at
 * one line per request its per-field lookups (serializers, stringifiers, the redaction formatter,
 * each key escaped anew) cost more than the rest of the line. An access line's fields are known:
 * flat strings, numbers and booleans, none of them a redacted path (the query is redacted before,
 * redact.ts); test/unit/access-line-writer.test.ts holds the two outputs equal.
 */
export function accessLineWriter(logger: Pick<Logger, 'levels'>, msg: string): (level: 'info' | 'debug', fields: AccessFields) => void {
  // Fixed for the logger's life: its level prefixes, clock, bindings, line end and destination.
  const levelPrefixes = internal<Record<number, string>>(logger, lsCacheSym);
  const time = internal<() => string>(logger, timeSym);
  const bindings = internal<string>(logger, chindingsSym);
  const end = internal<string>(logger, endSym);
  const destination = internal<{ write(line: string): unknown }>(logger, streamSym);
  const prefixOf = { info: levelPrefixes[logger.levels.values.info as number], debug: levelPrefixes[logger.levels.values.debug as number] };
  const msgField = `,"msg":${JSON.stringify(msg)}`;
  return (level, fields) => {
    let line = `${prefixOf[level]}${time()}${bindings}`;
    for (const key in fields) {
      const value = fields[key];
      if (value === undefined) continue;
      line += keyPrefix(key) + (typeof value === 'string' ? JSON.stringify(value) : typeof value === 'number' && !Number.isFinite(value) ? 'null' : String(value));
    }
    destination.write(line + msgField + end);
  };
}
