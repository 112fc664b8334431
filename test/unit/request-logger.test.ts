import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Logger } from 'pino';
import { RequestLogger, requestChildLogger } from '../../src/observability/request-logger.js';
import { memoryLogger } from '../helpers/memory-logger.js';

/** The http module's logger, counting the children made of it. */
function parentLogger(level: 'warn' | 'info') {
  const { logger, lines } = memoryLogger(level);
  const parent = logger.child({ module: 'http' }) as unknown as Logger;
  let children = 0;
  const child = parent.child;
  // Children inherit this method (pino's children are made with Object.create): `this` is theirs.
  parent.child = function countedChild(this: Logger, bindings, options) {
    children += 1;
    return child.call(this, bindings, options);
  } as Logger['child'];
  return { parent, lines, children: () => children };
}

describe("a request's logger", () => {
  it('makes no pino child, and writes nothing, while nothing is logged at a level that is on', () => {
    const { parent, lines, children } = parentLogger('warn');
    const log = new RequestLogger(parent, { reqId: 'r1' });
    log.info({ a: 1 }, 'not written');
    log.debug('not written');
    assert.equal(log.isLevelEnabled('info'), false);
    assert.equal(log.level, 'warn');
    assert.equal(children(), 0);
    assert.deepEqual(lines, []);
  });

  it("writes with the request's id once a level is on, making its child once", () => {
    const { parent, lines, children } = parentLogger('info');
    const log = new RequestLogger(parent, { reqId: 'r2' });
    log.info({ a: 1 }, 'first');
    log.error(new Error('boom'), 'second');
    assert.equal(children(), 1);
    assert.deepEqual(
      lines.map((line) => [line.module, line.reqId, line.msg]),
      [
        ['http', 'r2', 'first'],
        ['http', 'r2', 'second'],
      ],
    );
    assert.equal((lines[1]?.err as { message?: string } | undefined)?.message, 'boom');
  });

  it('gives a real child of its own child, with every binding', () => {
    const { parent, lines } = parentLogger('info');
    const log = new RequestLogger(parent, { reqId: 'r3' });
    log.child({ part: 'x' }).warn('from a child');
    assert.deepEqual([lines[0]?.reqId, lines[0]?.part, lines[0]?.msg], ['r3', 'x', 'from a child']);
  });

  it('is a real child at once for a route with a level or serializers of its own', () => {
    const { parent } = parentLogger('info');
    assert.ok(requestChildLogger(parent, { reqId: 'r4' }, {}) instanceof RequestLogger);
    assert.ok(!(requestChildLogger(parent, { reqId: 'r4' }, { level: 'debug' }) instanceof RequestLogger));
  });
});
