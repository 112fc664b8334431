import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../core/errors.js';
import { queryOf } from '../http/request-url.js';

export interface Page {
  items: string[];
  /** Set when more items follow; the value of the Link header. */
  next?: string;
}

/**
 * `n`/`last` paging over a sorted list (tags list and catalog): items strictly after `last`,
 * at most `n` of them, and a `Link: <...>; rel="next"` header when more remain. n=0 returns an
 * empty list and no Link (spec).
 */
export function paginate(sorted: readonly string[], request: FastifyRequest, basePath: string, defaultSize: number | undefined): Page {
  const query = queryOf(request);
  const nText = query.get('n');
  const last = query.get('last');
  let n = defaultSize;
  if (nText !== null && nText !== '') {
    if (!/^\d{1,9}$/.test(nText)) {
      throw new RegistryError('UNSUPPORTED', `n must be a non-negative integer, not "${nText.slice(0, 40)}"`, { n: nText.slice(0, 40) }, { status: 400 });
    }
    n = Number(nText);
  }
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
