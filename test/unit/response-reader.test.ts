import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import { ProtocolError, ResponseReader } from '../../src/loadgen/response-reader.js';

/** Everything a reader reported, in order. */
interface Recorded {
  heads: Array<{ status: number; headers: IncomingHttpHeaders }>;
  body: number;
  ends: boolean[];
  /** 'head', 'body' and 'end' as they came (a body event of length 0 is recorded too). */
  order: string[];
}

function recorder(method = 'GET'): { reader: ResponseReader; seen: Recorded } {
  const seen: Recorded = { heads: [], body: 0, ends: [], order: [] };
  const reader = new ResponseReader(method, {
    head(status, headers) {
      seen.heads.push({ status, headers });
      seen.order.push('head');
    },
    body(length) {
      seen.body += length;
      seen.order.push('body');
    },
    end(reusable) {
      seen.ends.push(reusable);
      seen.order.push('end');
    },
  });
  return { reader, seen };
}

/**
 * A connection's reused read buffer: each piece is copied in at an offset, and what lies beyond it
 * is stale bytes of earlier reads, full of CRLFs, so that a reader looking past `to` would be fooled.
 */
const STALE = Buffer.from('\r\n\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n\n\n', 'latin1');
const OFFSET = 5;

function feedPiece(reader: ResponseReader, piece: Buffer): void {
  const buffer = Buffer.alloc(OFFSET + piece.length + 256);
  for (let at = 0; at < buffer.length; at += STALE.length) STALE.copy(buffer, at);
  piece.copy(buffer, OFFSET);
  reader.feed(buffer, OFFSET, OFFSET + piece.length);
}

function bytes(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

/** Feeds `raw` in two reads split at `split` (0 and raw.length: one read and an empty one). */
function feedSplit(reader: ResponseReader, raw: Buffer, split: number): void {
  feedPiece(reader, raw.subarray(0, split));
  feedPiece(reader, raw.subarray(split));
}

/** Runs `check` on what the reader saw for every split point of `raw` into two reads. */
function everySplit(raw: Buffer, check: (seen: Recorded, reader: ResponseReader, split: number) => void, method = 'GET'): void {
  for (let split = 0; split <= raw.length; split += 1) {
    const { reader, seen } = recorder(method);
    feedSplit(reader, raw, split);
    check(seen, reader, split);
  }
}

/** Whether `action` throws a ProtocolError whose message starts as HTTP failures are described. */
function throwsProtocolError(action: () => void, message?: RegExp): void {
  assert.throws(action, (err: unknown) => {
    assert.ok(err instanceof ProtocolError, `not a ProtocolError: ${String(err)}`);
    assert.match(err.message, /^malformed response: /);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

/** For every split point: the reader refuses `raw` (at a feed, or at `closed()` when `thenClose`). */
function refusedAtEverySplit(raw: Buffer, message: RegExp, thenClose = false): void {
  for (let split = 0; split <= raw.length; split += 1) {
    const { reader } = recorder();
    throwsProtocolError(() => {
      feedSplit(reader, raw, split);
      if (thenClose) reader.closed();
    }, message);
  }
}

function oneAnswer(seen: Recorded, split: number, status: number, body: number, reusable: boolean): void {
  const where = `split at ${split}`;
  assert.equal(seen.heads.length, 1, where);
  assert.equal(seen.heads[0]?.status, status, where);
  assert.equal(seen.body, body, where);
  assert.deepEqual(seen.ends, [reusable], where);
  assert.equal(seen.order[0], 'head', where);
  assert.equal(seen.order.at(-1), 'end', where);
}

describe('ResponseReader: framing, at every split point of two reads', () => {
  it('reads a Content-Length body and keeps the connection', () => {
    const raw = bytes('HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 11\r\nDocker-Content-Digest: sha256:abc\r\n\r\nhello world');
    everySplit(raw, (seen, reader, split) => {
      oneAnswer(seen, split, 200, 11, true);
      assert.equal(seen.heads[0]?.headers['content-length'], '11');
      assert.equal(seen.heads[0]?.headers['content-type'], 'application/octet-stream');
      assert.equal(seen.heads[0]?.headers['docker-content-digest'], 'sha256:abc');
      assert.equal(reader.finished, true);
      assert.equal(reader.started, true);
    });
  });

  it('reads a Content-Length of 0 as an empty body', () => {
    everySplit(bytes('HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n'), (seen, _reader, split) => oneAnswer(seen, split, 202, 0, true));
  });

  it('reads a chunked body with chunk extensions and trailers', () => {
    const raw = bytes(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n' +
        '5;name=value\r\nhello\r\n' +
        '6 ; ext="quoted"\r\n world\r\n' +
        '1A\r\nabcdefghijklmnopqrstuvwxyz\r\n' +
        '0;last=yes\r\nX-Checksum: 1234\r\nX-Other: t\r\n\r\n',
    );
    everySplit(raw, (seen, reader, split) => {
      oneAnswer(seen, split, 200, 11 + 26, true);
      assert.equal(seen.heads[0]?.headers['transfer-encoding'], 'chunked');
      assert.equal(reader.finished, true);
    });
  });

  it('reads a chunked body that has no trailers', () => {
    everySplit(bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'), (seen, _reader, split) => oneAnswer(seen, split, 200, 3, true));
  });

  it('skips a 100 Continue (and a 103 with headers) before the real answer', () => {
    const raw = bytes('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 201 Created\r\nLocation: /v2/a/blobs/sha256:1\r\nContent-Length: 3\r\n\r\nabc');
    everySplit(raw, (seen, _reader, split) => {
      oneAnswer(seen, split, 201, 3, true);
      assert.equal(seen.heads[0]?.headers.location, '/v2/a/blobs/sha256:1');
      assert.equal(seen.heads[0]?.headers.link, undefined, 'the 103 headers are not the answer');
    });
  });

  it('reads no body after HEAD, whatever Content-Length says', () => {
    everySplit(
      bytes('HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nDocker-Content-Digest: sha256:abc\r\n\r\n'),
      (seen, _reader, split) => {
        oneAnswer(seen, split, 200, 0, true);
        assert.equal(seen.heads[0]?.headers['content-length'], '5000');
      },
      'HEAD',
    );
  });

  it('reads no body after 204 and 304', () => {
    everySplit(bytes('HTTP/1.1 204 No Content\r\n\r\n'), (seen, _reader, split) => oneAnswer(seen, split, 204, 0, true));
    everySplit(bytes('HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\nETag: "x"\r\n\r\n'), (seen, _reader, split) => oneAnswer(seen, split, 304, 0, true));
  });

  it('does not reuse a connection the answer says is closing', () => {
    everySplit(bytes('HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: Close\r\n\r\nbody'), (seen, _reader, split) => oneAnswer(seen, split, 200, 4, false));
    everySplit(bytes('HTTP/1.1 200 OK\r\nConnection: upgrade, close\r\nContent-Length: 0\r\n\r\n'), (seen, _reader, split) => oneAnswer(seen, split, 200, 0, false));
  });

  it('does not reuse an HTTP/1.0 connection unless it says keep-alive', () => {
    everySplit(bytes('HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\nbody'), (seen, _reader, split) => oneAnswer(seen, split, 200, 4, false));
    everySplit(bytes('HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 4\r\n\r\nbody'), (seen, _reader, split) => oneAnswer(seen, split, 200, 4, true));
  });

  it('ends a body without length or chunking when the connection closes, not before', () => {
    for (const head of ['HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n', 'HTTP/1.0 200 OK\r\n\r\n', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\n']) {
      const raw = bytes(`${head}twenty bytes of body`);
      everySplit(raw, (seen, reader, split) => {
        assert.equal(seen.heads.length, 1);
        assert.equal(seen.body, 20, `${JSON.stringify(head)} split at ${split}`);
        assert.deepEqual(seen.ends, [], 'no end before the connection closes');
        assert.equal(reader.finished, false);
        reader.closed();
        oneAnswer(seen, split, 200, 20, false);
        assert.equal(reader.finished, true);
      });
    }
  });

  it('ends an empty close-delimited body on close', () => {
    const { reader, seen } = recorder();
    feedPiece(reader, bytes('HTTP/1.1 200 OK\r\n\r\n'));
    reader.closed();
    oneAnswer(seen, 0, 200, 0, false);
  });

  it('joins repeated headers, keeps set-cookie as a list and lowercases names', () => {
    const raw = bytes('HTTP/1.1 401 Unauthorized\r\nVary: Accept\r\nSet-Cookie: a=1; Path=/\r\nVARY:  Authorization \r\nset-cookie: b=2\r\nWWW-Authenticate: Bearer realm="https://auth.example/token",service="registry"\r\nContent-Length: 2\r\n\r\n{}');
    everySplit(raw, (seen, _reader, split) => {
      oneAnswer(seen, split, 401, 2, true);
      const headers = seen.heads[0]?.headers ?? {};
      assert.equal(headers.vary, 'Accept, Authorization');
      assert.deepEqual(headers['set-cookie'], ['a=1; Path=/', 'b=2']);
      assert.equal(headers['www-authenticate'], 'Bearer realm="https://auth.example/token",service="registry"');
      assert.equal(Object.keys(headers).some((name) => name !== name.toLowerCase()), false);
    });
  });

  it('takes bare LF line endings too', () => {
    everySplit(bytes('HTTP/1.1 200 OK\nContent-Length: 3\n\nabc'), (seen, _reader, split) => oneAnswer(seen, split, 200, 3, true));
    everySplit(bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n'), (seen, _reader, split) => oneAnswer(seen, split, 200, 3, true));
  });

  it('reads an answer fed a byte at a time, counting the body exactly', () => {
    const body = 'x'.repeat(300);
    const raw = bytes(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n${body.slice(0, 100)}\r\nc8\r\n${body.slice(100)}\r\n0\r\n\r\n`);
    const { reader, seen } = recorder();
    for (let at = 0; at < raw.length; at += 1) feedPiece(reader, raw.subarray(at, at + 1));
    oneAnswer(seen, 0, 200, 300, true);
  });

  it('says when the first byte has come and when the answer is complete', () => {
    const { reader } = recorder();
    assert.equal(reader.started, false);
    assert.equal(reader.finished, false);
    feedPiece(reader, bytes('H'));
    assert.equal(reader.started, true);
    feedPiece(reader, bytes('TTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\na'));
    assert.equal(reader.finished, false);
    feedPiece(reader, bytes('b'));
    assert.equal(reader.finished, true);
    reader.closed(); // a connection closing after a complete answer is no failure
  });

  it('counts a large body fed in 64 KiB reads', () => {
    const size = 1_000_003;
    const { reader, seen } = recorder();
    const buffer = Buffer.alloc(64 * 1024, 0x0a);
    const head = bytes(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`);
    head.copy(buffer);
    let left = size;
    let first = Math.min(buffer.length - head.length, left);
    reader.feed(buffer, 0, head.length + first);
    left -= first;
    while (left > 0) {
      first = Math.min(buffer.length, left);
      reader.feed(buffer, 0, first);
      left -= first;
    }
    oneAnswer(seen, 0, 200, size, true);
  });
});

describe('ResponseReader: what is not HTTP', () => {
  it('refuses a garbage status line', () => {
    refusedAtEverySplit(bytes('SSH-2.0-OpenSSH_9.6\r\n\r\n'), /status line/);
    refusedAtEverySplit(bytes('HTTP/2 200\r\n\r\n'), /status line/);
    refusedAtEverySplit(bytes('HTTP/1.1 20 OK\r\n\r\n'), /status line/);
    refusedAtEverySplit(bytes('HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n'), /status line/);
  });

  it('refuses a header line without a name', () => {
    refusedAtEverySplit(bytes('HTTP/1.1 200 OK\r\nno colon here\r\n\r\n'), /header line/);
    refusedAtEverySplit(bytes('HTTP/1.1 200 OK\r\n: empty name\r\n\r\n'), /header line/);
  });

  it('refuses a bad Content-Length', () => {
    for (const value of ['abc', '-1', '1.5', '10, 12', '0x10', '']) {
      refusedAtEverySplit(bytes(`HTTP/1.1 200 OK\r\nContent-Length: ${value}\r\n\r\n0123456789ab`), /Content-Length/);
    }
  });

  it('refuses a bad chunk size', () => {
    refusedAtEverySplit(bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'), /chunk size/);
    refusedAtEverySplit(bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n'), /chunk size/);
    refusedAtEverySplit(bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\nabc\r\n0\r\n\r\n'), /chunk size/);
  });

  it('refuses chunk data longer than its size', () => {
    refusedAtEverySplit(bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n'), /chunk data longer than its size/);
  });

  it('refuses a chunk framing line that never ends', () => {
    const { reader } = recorder();
    feedPiece(reader, bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'));
    throwsProtocolError(() => feedPiece(reader, bytes(`1;${'e'.repeat(5000)}`)), /line too long/);
  });

  it('refuses bytes after the end of the answer, having reported the answer', () => {
    const raw = bytes('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n');
    for (let split = 0; split <= raw.length; split += 1) {
      const { reader, seen } = recorder();
      throwsProtocolError(() => feedSplit(reader, raw, split), /bytes after the end/);
      assert.deepEqual(seen.ends, [true], `split at ${split}`);
      assert.equal(seen.body, 2);
    }
    const { reader } = recorder('HEAD');
    throwsProtocolError(() => feedPiece(reader, bytes('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello')), /bytes after the end/);
  });

  it('refuses an answer cut short by the connection closing', () => {
    refusedAtEverySplit(bytes('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123'), /closed before the answer was complete/, true);
    refusedAtEverySplit(bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n01234'), /closed before the answer was complete/, true);
    refusedAtEverySplit(bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n'), /closed before the answer was complete/, true);
    refusedAtEverySplit(bytes('HTTP/1.1 200 OK\r\nContent-Le'), /closed before the answer was complete/, true);
    const { reader } = recorder();
    throwsProtocolError(() => reader.closed(), /closed before the answer was complete/);
  });

  it('refuses a status line and headers over 64 KiB, however they are fed', () => {
    const raw = bytes(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(70 * 1024)}\r\nContent-Length: 2\r\n\r\nok`);
    const refused = (pieces: number[]): void => {
      const { reader, seen } = recorder();
      throwsProtocolError(() => {
        let at = 0;
        for (const size of [...pieces, raw.length]) {
          const end = Math.min(raw.length, at + size);
          if (end > at) feedPiece(reader, raw.subarray(at, end));
          at = end;
        }
      }, /over 65536 bytes/);
      assert.equal(seen.heads.length, 0, `pieces ${pieces.join(',')}`);
    };
    refused([]); // all in one read
    refused([64 * 1024]); // as a connection reads it: 64 KiB, then the rest
    refused([1000, 64 * 1024]);
    refused(Array.from({ length: 80 }, () => 1024));
    for (let split = 1; split < raw.length; split += 4099) refused([split]);
    // A long line that never ends is refused before the whole of it is taken in.
    const { reader } = recorder();
    throwsProtocolError(() => feedPiece(reader, bytes(`HTTP/1.1 200 OK\r\nX: ${'b'.repeat(200 * 1024)}`)), /over 65536 bytes/);
  });

  it('takes a head just under 64 KiB', () => {
    const raw = bytes(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(60 * 1024)}\r\nContent-Length: 2\r\n\r\nok`);
    for (const split of [0, 1, 30_000, 61_000, raw.length - 3, raw.length]) {
      const { reader, seen } = recorder();
      feedSplit(reader, raw, split);
      oneAnswer(seen, split, 200, 2, true);
      assert.equal(String(seen.heads[0]?.headers['x-big']).length, 60 * 1024);
    }
  });
});
