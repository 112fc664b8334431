import pino, { type Logger } from 'pino';

const { chindingsSym, endSym, lsCacheSym, streamSym, timeSym } = pino.symbols;

/** One of the parts of a line pino has made ready for every line of `logger`. */
function internal<T>(logger: object, symbol: symbol): T {
  return (logger as unknown as Record<symbol, T>)[symbol] as T;
}

/** A field's key as it goes into a line, `,"key":`: made once per key, where pino escapes every key of every line again. */
export type FieldKey = string & { readonly fieldKey: unique symbol };

export function fieldKey(key: string): FieldKey {
  return `,${JSON.stringify(key)}:` as FieldKey;
}

/** What JSON.stringify escapes in a string: quotes, backslashes, control characters and lone surrogates (any surrogate goes the slow way). */
const NEEDS_ESCAPING = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A string as JSON.stringify writes it: most values need no escaping, and a regular expression's test costs less than the stringifier. */
export function jsonString(value: string): string {
  return NEEDS_ESCAPING.test(value) ? JSON.stringify(value) : `"${value}"`;
}

/**
 * Where an access line's fields go, in order, one method per type so that every call site
 * stays monomorphic; an undefined value is left out, as pino does.
 */
export interface FieldSink {
  string(key: FieldKey, value: string | undefined): void;
  /**
   * A string that cannot need escaping, by where it comes from: an id porthole made, a method
   * node's parser accepted, a route template. Not checked.
   */
  plain(key: FieldKey, value: string): void;
  number(key: FieldKey, value: number): void;
  boolean(key: FieldKey, value: boolean | undefined): void;
}

/**
 * Writes access lines byte for byte as `logger[level](fields, msg)` would (the same level,
 * time, bindings, field order and destination), without pino's general-purpose serializer: at
 * one line per request its per-field lookups (serializers, stringifiers, the redaction formatter,
 * each key escaped anew, a for-in over an object grown field by field) cost more than the rest
 * of the line. The fields come straight from the request (access-log.ts), between `start` and
 * `end`, with no object in between: flat strings, numbers and booleans, none of them a redacted
 * path (the query is redacted before, redact.ts). test/unit/access-line-writer.test.ts holds the
 * two outputs equal.
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

  /** Begins a line at `level`: its level, time and bindings. */
  start(level: 'info' | 'debug'): void {
    this.line = this.prefixOf[level] + this.time() + this.bindings;
  }

  string(key: FieldKey, value: string | undefined): void {
    if (value !== undefined) this.line += key + jsonString(value);
  }

  plain(key: FieldKey, value: string): void {
    this.line += `${key}"${value}"`;
  }

  number(key: FieldKey, value: number): void {
    this.line += key + (Number.isFinite(value) ? `${value}` : 'null');
  }

  boolean(key: FieldKey, value: boolean | undefined): void {
    if (value !== undefined) this.line += key + (value ? 'true' : 'false');
  }

  /** Ends the line begun by `start` and writes it. */
  end(): void {
    const line = this.line + this.ending;
    this.line = '';
    this.destination.write(line);
  }
}
