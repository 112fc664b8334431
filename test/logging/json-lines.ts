import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { AuditEvent } from '../../src/observability/audit.js';

/** A line of porthole's log: the fields every line has, and whatever its message adds. */
export interface LogLine {
  time: string;
  level: string;
  msg: string;
  module: string;
  reqId?: string;
  /** The replica that wrote it, on every line of porthole serve. */
  replica?: string;
  [field: string]: unknown;
}

/** A "request served" line (docs/logging.md, Access lines). */
export interface AccessLine extends LogLine {
  method: string;
  route: string;
  path: string;
  query?: string;
  status: number;
  latency: number;
  bytesIn: number;
  bytesOut: number;
  clientIP: string;
  userAgent?: string;
  user: string;
  repo?: string;
  reference?: string;
  digest?: string;
  uploadId?: string;
  error?: string;
  aborted?: boolean;
}

export type AuditLine = AuditEvent & { time: string };

/** ISO 8601, UTC, with milliseconds: what `time` must look like on every line of both files. */
export const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Every line of JSON-lines text, parsed. Strict on purpose: a line that is not one whole JSON
 * object (torn by a concurrent write, or cut off at exit) fails with its source and line number,
 * and so does a last line without its newline.
 */
export function parseJsonLines<T>(text: string, source: string): T[] {
  if (text === '') return [];
  if (!text.endsWith('\n')) throw new Error(`${source}: the last line has no newline: ${text.slice(text.lastIndexOf('\n') + 1).slice(0, 200)}`);
  return text
    .slice(0, -1)
    .split('\n')
    .map((line, index) => {
      try {
        const parsed: unknown = JSON.parse(line);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
        return parsed as T;
      } catch (err) {
        throw new Error(`${source}:${index + 1}: not a JSON object line (${(err as Error).message}): ${line.slice(0, 200)}`);
      }
    });
}

/** A JSON-lines file, parsed as strictly; a missing file reads as empty. */
export async function readJsonLines<T>(path: string): Promise<T[]> {
  try {
    return parseJsonLines<T>(await readFile(path, 'utf8'), path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** The one line that `matches`, failing (with what was found) when there is none or more than one. */
export function exactlyOne<T>(lines: T[], matches: (line: T) => boolean, what: string): T {
  const found = lines.filter(matches);
  assert.equal(found.length, 1, `exactly one line for ${what}: ${JSON.stringify(found).slice(0, 2000)}`);
  return found[0] as T;
}

export function isAccessLine(line: LogLine): line is AccessLine {
  return line.msg === 'request served';
}

export function accessLinesOf(lines: LogLine[]): AccessLine[] {
  return lines.filter(isAccessLine);
}

/** Audit lines of requests (server events have no reqId). */
export function requestAuditLines(lines: AuditLine[]): AuditLine[] {
  return lines.filter((line) => line.reqId !== undefined);
}

/** How often each value occurs, for "exactly once" checks that show the culprits when they fail. */
export function repeated(values: Array<string | undefined>): string[] {
  const counts = new Map<string | undefined, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts].filter(([, count]) => count > 1).map(([value, count]) => `${String(value)} x${count}`);
}

/**
 * Lines of one file (or of files read in order, a rotated one first) whose `time` is earlier than
 * the line before: none when the lines were written in the order they were logged.
 */
export function outOfOrder(lines: Array<{ time: string }>): string[] {
  const found: string[] = [];
  for (let i = 1; i < lines.length; i += 1) {
    const [before, line] = [lines[i - 1], lines[i]];
    if (before && line && line.time < before.time) found.push(`line ${i + 1} (${line.time}) after ${before.time}`);
  }
  return found;
}
