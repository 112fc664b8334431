import pino, { type DestinationStream, type Logger } from 'pino';
import type { PortholeConfig } from '../config/schema.js';
import { REDACTED, REDACT_PATHS } from './redact.js';

/** pino's levels plus `panic` above fatal, so the seven levels of `log.level` all exist. */
const CUSTOM_LEVELS = { panic: 70 } as const;
export type PortholeLogger = Logger<keyof typeof CUSTOM_LEVELS>;

type Fields = Record<string, unknown>;

/**
 * REDACT_PATHS as a tree: each level maps a key (or `*`, any key) to what lies below it, `null`
 * being a value to censor whole. `*.headers.cookie` and `headers.cookie` both end in a `cookie`
 * leaf, under `*` and under `headers`.
 */
interface PathTree {
  [key: string]: PathTree | null;
}

/** The segments of a pino redaction path: `a.b`, `a["b-c"]`, `*.a`. */
function segmentsOf(path: string): string[] {
  const segments: string[] = [];
  const segment = /([^.[\]"']+)|\[(?:"([^"]*)"|'([^']*)')\]|(\.)/y;
  let match: RegExpExecArray | null;
  let end = 0;
  while ((match = segment.exec(path)) !== null) {
    end = segment.lastIndex;
    const name = match[1] ?? match[2] ?? match[3];
    if (name !== undefined) segments.push(name);
  }
  if (end !== path.length || segments.length === 0) throw new Error(`unsupported redaction path: ${path}`);
  return segments;
}

/** A node with no prototype: a field named `constructor` or `toString` is no path. */
function node(): PathTree {
  return Object.create(null) as PathTree;
}

function pathTree(paths: readonly string[]): PathTree {
  const root = node();
  for (const path of paths) {
    const segments = segmentsOf(path);
    // `*` stands for any key on the way to a value, not for the value itself.
    if (segments.at(-1) === '*') throw new Error(`unsupported redaction path: ${path}`);
    let at: PathTree = root;
    for (const [index, name] of segments.entries()) {
      if (index === segments.length - 1) {
        at[name] = null;
        break;
      }
      const below: PathTree | null | undefined = at[name];
      // A shorter path censors the whole value already.
      if (below === null) break;
      at = below ?? (at[name] = node());
    }
  }
  return root;
}

const REDACTION = pathTree(REDACT_PATHS);

/**
 * A copy of `value` to change without touching the caller's object: same prototype and
 * properties, so that pino serializes it as it would the original (an Error stays an Error for
 * the `err` serializer, with its message and stack).
 */
function copyOf(value: object): Fields {
  return Object.create(Object.getPrototypeOf(value) as object | null, Object.getOwnPropertyDescriptors(value)) as Fields;
}

function censored(target: Fields, key: string): void {
  const own = Object.getOwnPropertyDescriptor(target, key);
  Object.defineProperty(target, key, { value: REDACTED, writable: true, configurable: true, enumerable: own?.enumerable ?? true });
}

/**
 * `value` with what `tree` names below it censored: the value itself when nothing is there
 * (nearly always), else a copy. Only objects have anything below them; an array's other
 * properties never reach JSON, so arrays are left as they are.
 */
function redactBelow(value: object, tree: PathTree): object {
  if (Array.isArray(value)) return value;
  let copy: Fields | undefined;
  const source = value as Fields;
  const wildcard = tree['*'];
  for (const key in tree) {
    if (key === '*' || !(key in source)) continue;
    const below = tree[key];
    if (below === undefined) continue;
    if (below === null) {
      copy ??= copyOf(value);
      censored(copy, key);
      continue;
    }
    const inner = source[key];
    if (typeof inner !== 'object' || inner === null) continue;
    // Under a key named in the tree, what `*` names applies too (`*.password` in `headers`).
    let redacted = redactBelow(inner, below);
    if (wildcard) redacted = redactBelow(redacted, wildcard);
    if (redacted !== inner) {
      copy ??= copyOf(value);
      copy[key] = redacted;
    }
  }
  if (wildcard) {
    for (const key in source) {
      if (key in tree || !Object.hasOwn(source, key)) continue;
      const inner = source[key];
      if (typeof inner !== 'object' || inner === null) continue;
      const redacted = redactBelow(inner, wildcard);
      if (redacted !== inner) {
        copy ??= copyOf(value);
        copy[key] = redacted;
      }
    }
  }
  return copy ?? value;
}

/**
 * The fields of a line (or a child logger's bindings) with REDACT_PATHS censored. pino's own
 * `redact` option did this by running @pinojs/redact over every field of every line, strings
 * and numbers included, because a path that starts with `*` applies to every key: several
 * microseconds a line, the largest part of an access line's cost. Here a field is looked into
 * only when it is an object, which no access line has; what is censored is the same.
 */
export function redactFields(fields: Fields): Fields {
  const tree = REDACTION;
  const wildcard = tree['*'];
  let copy: Fields | undefined;
  for (const key in fields) {
    const value = fields[key];
    if (value === undefined) continue;
    const below = tree[key];
    if (below === null) {
      if (!Object.hasOwn(fields, key)) continue;
      copy ??= { ...fields };
      copy[key] = REDACTED;
      continue;
    }
    if (typeof value !== 'object' || value === null || !Object.hasOwn(fields, key)) continue;
    let redacted = below === undefined ? value : redactBelow(value, below);
    if (wildcard) redacted = redactBelow(redacted, wildcard);
    if (redacted !== value) {
      copy ??= { ...fields };
      copy[key] = redacted;
    }
  }
  return copy ?? fields;
}

let timeMs = Number.NaN;
let timeField = '';

/**
 * pino's isoTime, once per millisecond: a busy server logs many lines in the same one, and
 * formatting the date was a visible part of each line's cost.
 */
function isoTime(): string {
  const now = Date.now();
  if (now !== timeMs) {
    timeMs = now;
    timeField = `,"time":"${new Date(now).toISOString()}"`;
  }
  return timeField;
}

/**
 * The root logger. Every line has `time` (ISO 8601, milliseconds), `level` (its name) and `msg`;
 * each module logs through `logger.child({ module })` so that every line also names its module.
 * REDACT_PATHS are censored in every line's fields and in every child logger's bindings
 * (redactFields), before pino serializes them.
 */
export function createLogger(config: Pick<PortholeConfig['log'], 'level'>, destination: DestinationStream): PortholeLogger {
  const logger: PortholeLogger = pino(
    {
      level: config.level,
      customLevels: CUSTOM_LEVELS,
      formatters: { level: (label) => ({ level: label }), log: redactFields },
      timestamp: isoTime,
      base: null,
    },
    destination,
  );
  // pino runs formatters.bindings for the root logger's own bindings only; children (each of
  // which inherits this method) pass theirs through here.
  const child = logger.child;
  logger.child = function redactedChild(this: PortholeLogger, bindings, options) {
    return child.call(this, redactFields(bindings), options);
  } as typeof logger.child;
  return logger;
}
