import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { createLogger } from '../../src/observability/logger.js';
import { REDACTED, REDACT_PATHS } from '../../src/observability/redact.js';

/**
 * porthole censors REDACT_PATHS itself (logger.ts) instead of through pino's `redact` option,
 * which cost several microseconds on every field of every line. What reaches the log must be
 * what pino's redaction wrote: each case is logged by both, and the lines compared.
 */

type Line = Record<string, unknown>;

function collecting(): { lines: Line[]; destination: { write(text: string): void } } {
  const lines: Line[] = [];
  return {
    lines,
    destination: {
      write(text: string) {
        for (const line of text.split('\n').filter((l) => l !== '')) {
          const { time: _time, ...rest } = JSON.parse(line) as Line;
          lines.push(rest);
        }
      },
    },
  };
}

/** pino with its own redaction of the same paths: what porthole wrote before. */
function reference(destination: { write(text: string): void }): pino.Logger {
  return pino(
    {
      level: 'info',
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
      base: null,
      redact: { paths: REDACT_PATHS, censor: REDACTED },
    },
    destination,
  );
}

class UpstreamError extends Error {
  headers: Record<string, string>;
  constructor(message: string, headers: Record<string, string>) {
    super(message);
    this.name = 'UpstreamError';
    this.headers = headers;
  }
}

function withPassword(message: string): Error {
  return Object.assign(new Error(message), { password: 'in-the-error', code: 'EAUTH' });
}

/** Each is logged as `info(fields, 'case')`. */
const CASES: Record<string, () => Line> = {
  'an access line': () => ({
    method: 'GET',
    route: '/v2/:name/manifests/:reference',
    path: '/v2/team/app/manifests/v1',
    query: 'n=1&token=[REDACTED]',
    status: 200,
    latency: 0.0012,
    bytesIn: 0,
    bytesOut: 432,
    clientIP: '127.0.0.1',
    userAgent: 'wrk',
    user: 'anonymous',
    repo: 'team/app',
    reference: 'v1',
    aborted: true,
  }),
  'top-level headers and password': () => ({
    headers: { authorization: 'Basic c2VjcmV0', cookie: 'a=b', 'proxy-authorization': 'Basic eA==', 'set-cookie': ['s=1'], accept: '*/*' },
    password: 'hunter2',
  }),
  'headers one level down, under any key': () => ({
    req: { method: 'GET', headers: { authorization: 'Bearer t0ken', host: 'x' } },
    upstream: { name: 'hub', headers: { cookie: 'c', 'set-cookie': 'd' }, password: 'p' },
  }),
  'the wildcard applies under headers too': () => ({ headers: { password: 'p', headers: { authorization: 'a' }, accept: 'x' } }),
  'deeper than the paths reach: left alone': () => ({ a: { b: { headers: { authorization: 'not a path' }, password: 'nor this' } } }),
  'a password of any type, and one set to null': () => ({ password: { nested: true }, login: { password: null, user: 'u' } }),
  'an undefined password is left out, as pino leaves it': () => ({ password: undefined, login: { user: 'u' } }),
  'no headers object: nothing to censor below': () => ({ headers: 'authorization: x', upstream: { headers: null } }),
  'an error whose own field carries headers': () => ({ err: new UpstreamError('upstream refused', { authorization: 'Bearer e', 'x-request-id': '1' }) }),
  'an error with a password field': () => ({ err: withPassword('login failed') }),
  'an array is serialized as one, whatever its other properties': () => ({ list: Object.assign([1, 2], { password: 'ignored by JSON' }) }),
  'dates, nulls and numbers': () => ({ when: new Date(0), none: null, n: Number.NaN, ok: false }),
  'fields named like what every object has': () => ({ constructor: { password: 'p' }, toString: { headers: { cookie: 'c' } }, hasOwnProperty: 'x' }),
};

describe('redaction of log lines', () => {
  for (const [name, build] of Object.entries(CASES)) {
    it(`${name}: as pino's redaction wrote it`, () => {
      const ours = collecting();
      const theirs = collecting();
      // The same object for both: an error's stack names where it was made.
      const fields = build();
      createLogger({ level: 'info' }, ours.destination).info(fields, 'case');
      reference(theirs.destination).info(fields, 'case');
      assert.deepEqual(ours.lines, theirs.lines);
    });
  }

  it('an error logged as the first argument: as pino wrote it', () => {
    const ours = collecting();
    const theirs = collecting();
    const err = new UpstreamError('refused', { authorization: 'Bearer e' });
    createLogger({ level: 'info' }, ours.destination).error(err, 'failed');
    reference(theirs.destination).error(err, 'failed');
    assert.deepEqual(ours.lines, theirs.lines);
    assert.equal((ours.lines[0]?.err as { headers: Record<string, string> }).headers.authorization, REDACTED);
  });

  it("child loggers' bindings, at every depth: as pino wrote them", () => {
    const ours = collecting();
    const theirs = collecting();
    const bindings: Line[] = [{ module: 'proxy' }, { upstream: { url: 'https://hub', headers: { authorization: 'Basic x' } } }, { password: 'p', reqId: 'r1' }];
    let mine: ReturnType<typeof createLogger> | pino.Logger = createLogger({ level: 'info' }, ours.destination);
    let pinos: pino.Logger = reference(theirs.destination);
    for (const binding of bindings) {
      mine = mine.child(structuredClone(binding));
      pinos = pinos.child(structuredClone(binding));
    }
    mine.info({ n: 1 }, 'from a grandchild');
    pinos.info({ n: 1 }, 'from a grandchild');
    assert.deepEqual(ours.lines, theirs.lines);
    assert.equal(ours.lines[0]?.password, REDACTED);
  });

  it("leaves the caller's objects as they were", () => {
    const headers = { authorization: 'Bearer keep', accept: '*/*' };
    const login = { password: 'keep' };
    const err = new UpstreamError('x', { cookie: 'keep' });
    const fields = { headers, login, err, password: 'keep' };
    const { destination, lines } = collecting();
    const logger = createLogger({ level: 'info' }, destination);
    logger.info(fields, 'once');
    logger.child({ login }).info('twice');
    assert.equal(lines.length, 2);
    assert.equal(headers.authorization, 'Bearer keep');
    assert.equal(login.password, 'keep');
    assert.equal(err.headers.cookie, 'keep');
    assert.equal(fields.password, 'keep');
    assert.ok(err instanceof UpstreamError);
  });

  it('passes a line with nothing to censor through as it is: no copy', async () => {
    const { redactFields } = await import('../../src/observability/logger.js');
    const line = CASES['an access line']?.() ?? {};
    assert.equal(redactFields(line), line);
    const nested = { err: new Error('plain'), upstream: { url: 'https://hub', headers: { accept: '*/*' } } };
    assert.equal(redactFields(nested), nested);
  });
});
