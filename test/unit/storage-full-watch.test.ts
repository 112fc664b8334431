import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StorageFullWatch } from '../../src/observability/storage-full-watch.js';
import { memoryLogger } from '../helpers/memory-logger.js';

const enospc = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });

function watched() {
  let now = 0;
  let gauge = -1;
  const { logger, lines } = memoryLogger('info');
  const watch = new StorageFullWatch({ set: (value) => (gauge = value) }, logger, () => now);
  return {
    watch,
    lines,
    gauge: () => gauge,
    advance: (ms: number) => (now += ms),
    messages: () => lines.map((line) => line.msg),
  };
}

describe('StorageFullWatch', () => {
  it('starts at 0 and ignores failures that are not a full disk', () => {
    const w = watched();
    assert.equal(w.gauge(), 0);
    w.watch.observe('writeAtomic', Object.assign(new Error('denied'), { code: 'EACCES' }));
    assert.equal(w.gauge(), 0);
    assert.deepEqual(w.lines, []);
  });

  it('logs a full disk once a minute however often writes fail, and counts the failures in between', () => {
    const w = watched();
    for (let i = 0; i < 5; i++) w.watch.observe('writeStreamAt', enospc);
    assert.equal(w.gauge(), 1);
    assert.equal(w.lines.length, 1);
    assert.equal(w.lines[0]?.level, 'error');
    w.advance(59_000);
    w.watch.observe('commit', Object.assign(new Error('quota'), { code: 'EDQUOT' }));
    assert.equal(w.lines.length, 1);
    w.advance(2_000);
    w.watch.observe('writeAtomic', enospc);
    assert.equal(w.lines.length, 2);
    assert.equal(w.lines[1]?.failures, 6, 'the line counts the failures since the last one, its own included');
  });

  it('follows each write in the gauge but keeps the log to a line a minute while the disk flaps', () => {
    const w = watched();
    w.watch.observe('writeStreamAt', enospc);
    w.watch.observe('read', undefined);
    assert.equal(w.gauge(), 1, 'a read shows nothing about room');
    w.watch.observe('writeAtomic', undefined);
    assert.equal(w.gauge(), 0);
    for (let i = 0; i < 10; i++) {
      w.advance(1_000);
      w.watch.observe('writeStreamAt', enospc);
      w.watch.observe('writeAtomic', undefined);
    }
    assert.deepEqual(w.messages(), ['storage is full: writes are refused with 507', 'storage has room again']);
  });
});
