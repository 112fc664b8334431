/** porthole-bench's pure parts: exact mixes, percentiles, the exit code's rule. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mixCounts, mixSequence } from '../../src/loadgen/mix.js';
import { summarize } from '../../src/loadgen/percentiles.js';
import { exitCodeOf } from '../../src/loadgen/report.js';
import { resultWithoutRun } from '../../src/loadgen/results.js';

test('mixes take exact proportions, in the same shuffled order every time', () => {
  const classes = [
    { value: 1, weight: 20, label: '1MB' },
    { value: 10, weight: 70, label: '10MB' },
    { value: 100, weight: 10, label: '100MB' },
  ];
  assert.deepEqual(mixCounts(classes, mixSequence(classes, 5)), { '1MB': 1, '10MB': 3, '100MB': 1 });
  assert.deepEqual(mixCounts(classes, mixSequence(classes, 100)), { '1MB': 20, '10MB': 70, '100MB': 10 });
  assert.deepEqual(mixSequence(classes, 50), mixSequence(classes, 50));
  assert.notDeepEqual(mixSequence(classes, 50), [...mixSequence(classes, 50)].sort((a, b) => a - b));
});

test('nearest-rank percentiles; nothing when no request succeeded', () => {
  assert.deepEqual(summarize([5, 1, 4, 2, 3]), { min: 1, p50: 3, p75: 4, p90: 5, p99: 5, max: 5, count: 5, sum: 15 });
  assert.equal(summarize([]), undefined);
});

test('the exit code: any non-timeout failure, or timeouts beyond the budget', () => {
  const run = (failed: number, timeouts: number) => {
    const result = resultWithoutRun('T', 'http://r', 10, 'skipped', 'x');
    return [{ registry: 'http://r', tests: [{ ...result, failed, timeouts }] }];
  };
  assert.equal(exitCodeOf(run(0, 0), 0).exitCode, 0);
  assert.equal(exitCodeOf(run(1, 0), 5).exitCode, 1);
  assert.equal(exitCodeOf(run(3, 3), 3).exitCode, 0);
  assert.equal(exitCodeOf(run(4, 4), 3).exitCode, 1);
});
