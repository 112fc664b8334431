import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { settleWithin, stepBoundOf } from '../../src/cli/startup-bound.js';

describe('start-up step bound', () => {
  it('gives up on a step that never finishes', async () => {
    const never = new Promise<never>(() => undefined);
    assert.deepEqual(await settleWithin(never, 5), { finished: false });
  });

  it('passes on the value, or the failure, of a step that finishes', async () => {
    assert.deepEqual(await settleWithin(Promise.resolve('ready'), 60_000), { finished: true, value: 'ready' });
    await assert.rejects(settleWithin(Promise.reject(new Error('EACCES')), 60_000), /EACCES/);
  });

  it('is 60s unless PORTHOLE_STARTUP_TIMEOUT says otherwise, and refuses what is not a duration', () => {
    assert.deepEqual(stepBoundOf({}), { text: '60s', ms: 60_000 });
    assert.deepEqual(stepBoundOf({ PORTHOLE_STARTUP_TIMEOUT: '5s' }), { text: '5s', ms: 5_000 });
    assert.match(String(stepBoundOf({ PORTHOLE_STARTUP_TIMEOUT: 'soon' })), /PORTHOLE_STARTUP_TIMEOUT: "soon" is not a duration/);
  });
});
