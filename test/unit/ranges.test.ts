import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRegistryError } from '../../src/core/errors.js';
import { parseUploadContentRange, resolveReadRange, uploadRangeHeader } from '../../src/core/ranges.js';

describe('upload Content-Range', () => {
  it('parses inclusive start-end', () => {
    assert.deepEqual(parseUploadContentRange('0-99'), { start: 0, end: 99 });
    assert.deepEqual(parseUploadContentRange('bytes=5-5'), { start: 5, end: 5 });
  });
  it('rejects malformed or reversed ranges', () => {
    for (const header of ['', '5', '-5', '5-', 'a-b', '10-5', '0-1-2', 'bytes 0-', '1e3-2e3']) {
      assert.equal(parseUploadContentRange(header), undefined, header);
    }
  });
  it('reports progress as 0-<last byte>', () => {
    assert.equal(uploadRangeHeader(0), '0-0');
    assert.equal(uploadRangeHeader(1), '0-0');
    assert.equal(uploadRangeHeader(100), '0-99');
  });
});

describe('blob Range', () => {
  const size = 100;
  const partial = (header: string) => {
    const r = resolveReadRange(header, size);
    assert.equal(r.kind, 'partial', header);
    return r.kind === 'partial' ? r.range : undefined;
  };
  it('serves the whole blob without a Range, for other units, and for multiple ranges', () => {
    assert.equal(resolveReadRange(undefined, size).kind, 'full');
    assert.equal(resolveReadRange('items=0-1', size).kind, 'full');
    assert.equal(resolveReadRange('bytes=0-1,5-6', size).kind, 'full');
  });
  it('resolves closed, open and suffix ranges, clamping the end', () => {
    assert.deepEqual(partial('bytes=0-9'), { start: 0, end: 9 });
    assert.deepEqual(partial('bytes=90-'), { start: 90, end: 99 });
    assert.deepEqual(partial('bytes=-10'), { start: 90, end: 99 });
    assert.deepEqual(partial('bytes=-1000'), { start: 0, end: 99 });
    assert.deepEqual(partial('bytes=50-5000'), { start: 50, end: 99 });
  });
  it('clamps a last position or suffix of any number of digits (RFC 9110 14.1.2)', () => {
    assert.deepEqual(partial('bytes=0-99999999999999999999'), { start: 0, end: 99 });
    assert.deepEqual(partial(`bytes=10-${'9'.repeat(400)}`), { start: 10, end: 99 });
    assert.deepEqual(partial('bytes=-99999999999999999999'), { start: 0, end: 99 });
  });
  it('answers 416 with Content-Range bytes */size for unsatisfiable or malformed ranges', () => {
    for (const header of ['bytes=100-', 'bytes=200-300', 'bytes=5-1', 'bytes=-0', 'bytes=-', 'bytes=a-b', 'bytes=99999999999999999999-', 'bytes=1-2-3']) {
      assert.throws(
        () => resolveReadRange(header, size),
        (err: unknown) => isRegistryError(err) && err.status === 416 && err.headers['content-range'] === 'bytes */100',
        header,
      );
    }
  });
});
