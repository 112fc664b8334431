import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactedUrl } from '../../src/observability/redact.js';

describe('redactedUrl', () => {
  const cases: Array<[string, string]> = [
    // Nothing to hide: shown as it is (normalised the way URL does).
    ['https://registry-1.docker.io', 'https://registry-1.docker.io/'],
    ['http://127.0.0.1:5001/v2/library/app/blobs/sha256:ab', 'http://127.0.0.1:5001/v2/library/app/blobs/sha256:ab'],
    // User information, whatever it holds.
    ['http://user:secret@host', 'http://[REDACTED]@host/'],
    ['https://user@host:5000/v2/', 'https://[REDACTED]@host:5000/v2/'],
    ['https://:secret@host/', 'https://[REDACTED]@host/'],
    ['http://us%40er:p%3Ass@host/x', 'http://[REDACTED]@host/x'],
    ['http://user:p@ss@host/x', 'http://[REDACTED]@host/x'],
    // A signed CDN redirect: credential-like query parameters too; the fragment goes.
    ['https://cdn.example/blob?X-Amz-Signature=abc&X-Amz-Expires=60', 'https://cdn.example/blob?X-Amz-Signature=[REDACTED]&X-Amz-Expires=60'],
    ['https://me:pw@cdn.example/blob?token=abc#access_token=xyz', 'https://[REDACTED]@cdn.example/blob?token=[REDACTED]'],
    // Not URLs with a host (an upstream's realm or Location can be anything): bluntly.
    ['ftp//user:secret@host/token', '[REDACTED]@host/token'],
    ['http://user:pa/ss@host', 'http://[REDACTED]@host'],
    ['http://user:pa?ss@host', 'http://[REDACTED]@host'],
    ['http://host:notaport/x?token=abc', 'http://host:notaport/x?[REDACTED]'],
    ['not a url', 'not a url'],
  ];
  for (const [url, expected] of cases) {
    it(`${url} -> ${expected}`, () => {
      assert.equal(redactedUrl(url), expected);
    });
  }

  it('takes URL objects, and never lets the password through', () => {
    assert.equal(redactedUrl(new URL('http://a:b@h:1/p')), 'http://[REDACTED]@h:1/p');
    for (const [url] of cases) assert.ok(!/secret|:pw@|p%3Ass/.test(redactedUrl(url)), url);
  });
});
