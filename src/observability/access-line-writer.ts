import pino, { type Logger } from 'pino';

const { chindingsSym, endSym, lsCacheSym, streamSym, timeSym } = pino.symbols;

/** A field's value in an access line: flat, as access-log.ts gives them; undefined is left out. */
export type FieldValue = string | number | boolean | undefined;

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

/** Where an access line's fields go, in order; an undefined value is left out, as pino does. */
export interface FieldSink {
  field(key: string, value: FieldValue): void;
}

/**
 * Writes access lines byte for byte as `logger[level](fields, msg)` would (the same level,
 * time, bindings, field order and destination), without pino's general-purpose serializer: at
 * one line per request its per-field lookups (serializers, stringifiers, the redaction formatter,
 * each key escaped anew, a for-in over an object grown field by field) cost more than the rest
 * of the line. The fields come straight from the request (access-log.ts), with no object in
 * between: flat strings, numbers and booleans, none of them a redacted path (the query is redacted
 * before, redact.ts). test/unit/access-line-writer.test.ts holds the two outputs equal.
 */
export class AccessLineWriter implements FieldSink {
  private readonly prefixOf: Record<'info' | 'debug', string>;
  private readonly time: () => string;
  private readonly bindings: string;
  private readonly ending: string;
  private readonly destination: { write(line: string): unknown };
  /** The line being built (lines are built and written synchronously, one at a time). */
  private line = '';

  constructor(logger: Pick<Logger, 'levels'>, msg: string) {
    // Fixed for the logger's life: its level prefixes, clock, bindings, line end and destination.
    const levelPrefixes = internal<Record<number, string>>(logger, lsCacheSym);
    this.prefixOf = { info: levelPrefixes[logger.levels.values.info as number] as string, debug: levelPrefixes[logger.levels.values.debug as number] as string };
    this.time = internal<() => string>(logger, timeSym);
    this.bindings = internal<string>(logger, chindingsSym);
    this.ending = `,"msg":${JSON.stringify(msg)}${internal<string>(logger, endSym)}`;
    this.destination = internal<{ write(line: string): unknown }>(logger, streamSym);
  }

  field(key: string, value: FieldValue): void {
    if (value === undefined) return;
    this.line += keyPrefix(key) + (typeof value === 'string' ? JSON.stringify(value) : typeof value === 'number' && !Number.isFinite(value) ? 'null' : String(value));
  }

  /** Writes the line whose fields `fill` gives this writer. */
  write(level: 'info' | 'debug', fill: (sink: FieldSink) => void): void {
    this.line = this.prefixOf[level] + this.time() + this.bindings;
    fill(this);
    const line = this.line + this.ending;
    this.line = '';
    this.destination.write(line);
  }
}
