import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Exposition } from '../helpers/prometheus-text.js';

/** The test suites' reader of Prometheus text: wrong here would make the metrics suites pass or fail for nothing. */
describe('Exposition (test helper)', () => {
  const text = [
    '# HELP porthole_pulls_total Pulls.',
    '# TYPE porthole_pulls_total counter',
    'porthole_pulls_total{type="manifest"} 3',
    'porthole_pulls_total{type="blob"} 9',
    '# TYPE d histogram',
    'd_bucket{le="0.5",route="/v2/:name/manifests/:reference"} 1',
    'd_bucket{le="+Inf",route="/v2/:name/manifests/:reference"} 2',
    'odd{v="a \\"quoted\\", back\\\\slash\\nnewline",w="x"} +Inf',
    'plain 1.5e-3 1700000000000',
    '',
  ].join('\n');
  const exposition = new Exposition(text);

  it('reads types, labels (escapes included) and values', () => {
    assert.equal(exposition.types.get('porthole_pulls_total'), 'counter');
    assert.equal(exposition.types.get('d'), 'histogram');
    assert.deepEqual(exposition.find('odd'), [{ name: 'odd', labels: { v: 'a "quoted", back\\slash\nnewline', w: 'x' }, value: Infinity }]);
    assert.equal(exposition.value('plain'), 0.0015);
  });

  it('finds by label subset, sums, and refuses an ambiguous single value', () => {
    assert.equal(exposition.value('porthole_pulls_total', { type: 'blob' }), 9);
    assert.equal(exposition.sum('porthole_pulls_total'), 12);
    assert.equal(exposition.value('d_bucket', { le: '+Inf' }), 2);
    assert.equal(exposition.value('porthole_pulls_total', { type: 'none' }), undefined);
    assert.throws(() => exposition.value('porthole_pulls_total'), /2 samples/);
    assert.deepEqual(exposition.byLabel('porthole_pulls_total', 'type'), { manifest: 3, blob: 9 });
  });

  it('refuses a line that is not a sample', () => {
    assert.throws(() => new Exposition('porthole_pulls_total{type="x} 1\n'), /cannot read the labels|not a sample/);
  });
});
