import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError, type ErrorCode } from '../core/errors.js';
import { queryOf } from '../http/request-url.js';

export interface Page {
  items: string[];
  /** Set when more items follow; the value of the Link header. */
  next?: string;
}

/**
 * How a count in a query (`n`, the management API's `limit`) is checked. /v2 answers a bad one
 * with the spec's UNSUPPORTED (400); the management API, which the spec does not cover, with
 * distribution's PAGINATION_NUMBER_INVALID, and it bounds the count too.
 */
export interface CountRules {
  max?: number;
  code?: Extract<ErrorCode, 'UNSUPPORTED' | 'PAGINATION_NUMBER_INVALID'>;
}

/** A count parameter's value: `fallback` when absent or empty; a 400 naming the parameter when not a non-negative integer (within `max`). */
export function parseCount(text: string | null, name: string, fallback: number | undefined, rules: CountRules = {}): number | undefined {
  if (text === null || text === '') return fallback;
  const code = rules.code ?? 'UNSUPPORTED';
  const shown = text.slice(0, 40);
  const range = rules.max === undefined ? 'a non-negative integer' : `an integer from 0 to ${rules.max}`;
  if (!/^\d{1,9}$/.test(text) || (rules.max !== undefined && Number(text) > rules.max)) {
    throw new RegistryError(code, `${name} must be ${range}, not "${shown}"`, { [name]: shown }, { status: 400 });
  }
  return Number(text);
}

/**
 * `n`/`last` paging over a sorted list (tags list, catalog, the management API's repositories):
 * items strictly after `last`, at most `n` of them, and a `Link: <...>; rel="next"` header when
 * more remain. n=0 returns an empty list and no Link (spec).
 */
export function paginate(sorted: readonly string[], request: FastifyRequest, basePath: string, defaultSize: number | undefined, rules: CountRules = {}): Page {
  const query = queryOf(request);
  const last = query.get('last');
  const n = parseCount(query.get('n'), 'n', defaultSize, rules);
  const start = last === null || last === '' ? 0 : firstAfter(sorted, last);
  if (n === 0) return { items: [] };
  const end = n === undefined ? sorted.length : Math.min(sorted.length, start + n);
  const items = sorted.slice(start, end);
  if (end >= sorted.length || items.length === 0) return { items };
  const nextLast = items[items.length - 1] as string;
  return { items, next: `<${basePath}?n=${n}&last=${encodeURIComponent(nextLast)}>; rel="next"` };
}

/** Index of the first element greater than `value` in an ASCII-sorted array. */
function firstAfter(sorted: readonly string[], value: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if ((sorted[mid] as string) <= value) low = mid + 1;
    else high = mid;
  }
  return low;
}

export function sendPage(reply: FastifyReply, page: Page, body: Record<string, unknown>): FastifyReply {
  if (page.next) reply.header('link', page.next);
  return reply.code(200).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(body));
}
