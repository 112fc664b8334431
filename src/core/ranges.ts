import { RegistryError } from './errors.js';

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

const CONTENT_RANGE = /^(?:bytes[ =])?(\d{1,15})-(\d{1,15})$/;

/**
 * Parses an upload chunk's Content-Range ("start-end", inclusive). The spec requires a 416 for a
 * malformed value, so the caller gets undefined and answers with the current range.
 */
export function parseUploadContentRange(header: string): ByteRange | undefined {
  const match = CONTENT_RANGE.exec(header.trim());
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (end < start) return undefined;
  return { start, end };
}

/** The Range header value for an upload that holds `size` bytes ("0-<last byte>", "0-0" when empty). */
export function uploadRangeHeader(size: number): string {
  return `0-${size > 0 ? size - 1 : 0}`;
}

export type ReadRange = { kind: 'full' } | { kind: 'partial'; range: ByteRange };

/**
 * Interprets a blob GET's Range header against a blob of `size` bytes (RFC 9110 section 14).
 * Units other than bytes and multi-range requests are ignored (a full 200 is allowed);
 * a malformed or unsatisfiable bytes range gets 416 with "Content-Range: bytes *\/size".
 */
export function resolveReadRange(header: string | undefined, size: number): ReadRange {
  if (header === undefined) return { kind: 'full' };
  const value = header.trim();
  if (!value.toLowerCase().startsWith('bytes=')) return { kind: 'full' };
  const spec = value.slice('bytes='.length).trim();
  if (spec.includes(',')) return { kind: 'full' };
  const unsatisfiable = (): RegistryError =>
    new RegistryError('SIZE_INVALID', `range "${value.slice(0, 100)}" is not satisfiable for a blob of ${size} bytes`, undefined, {
      status: 416,
      headers: { 'content-range': `bytes */${size}` },
    });
  // Positions of any length: a last position (or a suffix) past the end is clamped to the blob
  // (RFC 9110 14.1.2), however many digits it has; Number() of a huge one is only imprecise or
  // Infinity, both of which clamp the same way.
  const match = /^(\d*)-(\d*)$/.exec(spec);
  if (!match || (match[1] === '' && match[2] === '')) throw unsatisfiable();
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) throw unsatisfiable();
    return { kind: 'partial', range: { start: Math.max(0, size - suffix), end: size - 1 } };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) throw unsatisfiable();
  return { kind: 'partial', range: { start, end } };
}
