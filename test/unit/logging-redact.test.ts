import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactedQuery } from '../../src/observability/redact.js';

describe('redactedQuery', () => {
  const cases: Array<[string, string | undefined]> = [
    ['/v2/', undefined],
    ['/v2/?', undefined],
    ['/v2/?n=1', 'n=1'],
    ['/v2/?token=abc', 'token=[REDACTED]'],
    ['/v2/?password=p&n=2', 'password=[REDACTED]&n=2'],
    ['/v2/a/blobs/uploads/?access_token=x&refresh_token=y', 'access_token=[REDACTED]&refresh_token=[REDACTED]'],
    ['/x?X-Amz-Signature=s&X-Amz-Credential=c&X-Amz-Expires=60', 'X-Amz-Signature=[REDACTED]&X-Amz-Credential=[REDACTED]&X-Amz-Expires=60'],
    ['/x?api_key=k&secret=s&passwd=p&session=q&auth=a&sig=z', 'api_key=[REDACTED]&secret=[REDACTED]&passwd=[REDACTED]&session=[REDACTED]&auth=[REDACTED]&sig=[REDACTED]'],
    // Names are matched whatever their case, and a repeated parameter is masked each time.
    ['/x?Token=a&TOKEN=b', 'Token=[REDACTED]&TOKEN=[REDACTED]'],
    // Registry parameters stay readable, encoded as they would be sent.
    [`/v2/a/blobs/uploads/?digest=sha256:${'0'.repeat(64)}`, `digest=sha256%3A${'0'.repeat(64)}`],
    ['/v2/a/blobs/uploads/?mount=sha256:1&from=b/c', 'mount=sha256%3A1&from=b%2Fc'],
    ['/v2/a/tags/list?n=10&last=v1', 'n=10&last=v1'],
    // A secret sent percent-encoded is still masked once decoded.
    ['/x?pass%77ord=hunter2', 'password=[REDACTED]'],
  ];
  for (const [url, expected] of cases) {
    it(`${url} -> ${expected ?? '(none)'}`, () => {
      assert.equal(redactedQuery(url), expected);
    });
  }
});
