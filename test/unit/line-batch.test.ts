import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineBatch } from '../../src/observability/line-batch.js';

describe('a batch of log lines', () => {
  it('gives each batch taken its own bytes, which later lines do not touch', () => {
    const batch = new LineBatch(64);
    assert.equal(batch.take(), undefined, 'nothing waits');
    batch.add('a1\n');
    batch.add('é2\n');
    assert.equal(batch.bytes, 7, 'UTF-8 bytes');
    const first = batch.take();
    assert.equal(batch.bytes, 0);
    batch.add('b3\n');
    const second = batch.take();
    batch.add('c4\n');
    assert.equal(first?.toString(), 'a1\né2\n');
    assert.equal(second?.toString(), 'b3\n');
  });

  it('says a line might not fit when three bytes per character would not, and takes any line up to its capacity into an empty batch', () => {
    const batch = new LineBatch(30);
    batch.add('x'.repeat(10));
    assert.equal(batch.fits('y'.repeat(6)), true, '18 bytes at most, 20 left');
    assert.equal(batch.fits('y'.repeat(7)), false, '21 bytes at most, 20 left');
    const taken = batch.take();
    // Empty again, though its buffer has 20 bytes left: a new one takes the line.
    assert.equal(batch.fits('z'.repeat(10)), true);
    batch.add('z'.repeat(10));
    assert.equal(batch.take()?.toString(), 'z'.repeat(10));
    assert.equal(taken?.toString(), 'x'.repeat(10));
    assert.equal(batch.fits('w'.repeat(11)), false, 'longer than a whole batch');
  });
});
