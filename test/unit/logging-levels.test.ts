import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LOG_LEVELS } from '../../src/config/schema.js';
import type { PortholeLogger } from '../../src/observability/logger.js';
import { memoryLogger } from '../helpers/memory-logger.js';

/** Logs one line at each of the seven levels, most severe first. */
function logEveryLevel(logger: PortholeLogger): void {
  for (const level of LOG_LEVELS) logger[level](`at ${level}`);
}

describe('createLogger levels', () => {
  const expected: Record<(typeof LOG_LEVELS)[number], string[]> = {
    panic: ['panic'],
    fatal: ['panic', 'fatal'],
    error: ['panic', 'fatal', 'error'],
    warn: ['panic', 'fatal', 'error', 'warn'],
    info: ['panic', 'fatal', 'error', 'warn', 'info'],
    debug: ['panic', 'fatal', 'error', 'warn', 'info', 'debug'],
    trace: ['panic', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'],
  };
  for (const level of LOG_LEVELS) {
    it(`${level} writes ${expected[level].join(', ')}`, () => {
      const { logger, lines } = memoryLogger(level);
      logEveryLevel(logger.child({ module: 'unit' }));
      assert.deepEqual(
        lines.map((line) => line.level),
        expected[level],
      );
      assert.deepEqual(
        lines.map((line) => line.msg),
        expected[level].map((name) => `at ${name}`),
      );
    });
  }
});

describe('createLogger lines', () => {
  it('have the level name, an ISO time with milliseconds, the module and the message', () => {
    const { logger, lines } = memoryLogger('info');
    const before = Date.now();
    logger.child({ module: 'storage' }).info({ removed: 3 }, 'expired upload sessions removed');
    assert.equal(lines.length, 1);
    const { time, ...rest } = lines[0] as { time: string };
    assert.match(time, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    assert.ok(Math.abs(Date.parse(time) - before) < 5_000);
    // No pid or hostname: `base` is null.
    assert.deepEqual(rest, { level: 'info', module: 'storage', removed: 3, msg: 'expired upload sessions removed' });
  });

  it('mask credentials in headers and password fields', () => {
    const { logger, lines } = memoryLogger('info');
    logger.info(
      {
        headers: { authorization: 'Basic c2VjcmV0', cookie: 'session=abc', 'proxy-authorization': 'Basic eA==', accept: '*/*' },
        req: { headers: { authorization: 'Bearer t0ken' } },
        password: 'hunter2',
        login: { password: 'hunter3' },
      },
      'with secrets',
    );
    assert.deepEqual(lines[0], {
      ...lines[0],
      headers: { authorization: '[REDACTED]', cookie: '[REDACTED]', 'proxy-authorization': '[REDACTED]', accept: '*/*' },
      req: { headers: { authorization: '[REDACTED]' } },
      password: '[REDACTED]',
      login: { password: '[REDACTED]' },
    });
    assert.doesNotMatch(JSON.stringify(lines), /c2VjcmV0|abc|t0ken|hunter/);
  });
});
