import type { IncomingHttpHeaders } from 'node:http';

/** What a reader tells its connection as an HTTP/1.1 answer arrives. */
export interface ResponseEvents {
  /** The status line and headers are in (1xx interim answers are skipped). */
  head(status: number, headers: IncomingHttpHeaders): void;
  /** `length` bytes of the body (after chunked framing is taken off). */
  body(length: number): void;
  /** The answer is complete; `reusable` says whether the connection may carry another request. */
  end(reusable: boolean): void;
}

/** The registry's answer is not HTTP/1.1 as porthole-bench reads it. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(`malformed response: ${message}`);
    this.name = 'ProtocolError';
  }
}

/** A status line and headers longer than this are refused, as HTTP clients do (undici: 16 KiB by default). */
const HEAD_LIMIT = 64 * 1024;
const CHUNK_LINE_LIMIT = 4 * 1024;

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailers' | 'until-close' | 'done';

const LF = 0x0a;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

/** The headers as node:http gives them: names in lower case, repeated ones joined (set-cookie kept as a list). */
function parseHead(text: string): { status: number; version: string; headers: IncomingHttpHeaders } {
  const lines = text.split(/\r?\n/);
  const statusLine = /^HTTP\/(1\.[01]) (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
  if (!statusLine) throw new ProtocolError(`status line ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const headers: IncomingHttpHeaders = {};
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ProtocolError(`header line ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'set-cookie') (headers['set-cookie'] ??= []).push(value);
    else {
      const before = headers[name];
      headers[name] = before === undefined ? value : `${String(before)}, ${value}`;
    }
  }
  return { status: Number(statusLine[2]), version: statusLine[1] as string, headers };
}

function hasToken(value: string | string[] | undefined, token: string): boolean {
  if (value === undefined) return false;
  return String(value)
    .split(',')
    .some((part) => part.trim().toLowerCase() === token);
}

/**
 * Reads one HTTP/1.1 answer from the bytes of a connection, without copying its body: the body
 * is only counted, whether framed by Content-Length, chunked, or by the connection's end
 * (RFC 9112 §6.3). A connection reads its answers into one reused buffer and hands each read here.
 */
export class ResponseReader {
  private state: State = 'head';
  private headText = '';
  private line = '';
  private remaining = 0;
  private reusable = true;

  constructor(
    private readonly method: string,
    private readonly events: ResponseEvents,
  ) {}

  get finished(): boolean {
    return this.state === 'done';
  }

  /** Whether any byte of the answer has arrived (a connection that closes before that may be retried). */
  get started(): boolean {
    return this.state !== 'head' || this.headText !== '';
  }

  /** Takes bytes [from, to) of `buffer`; throws ProtocolError on what is not HTTP. */
  feed(buffer: Buffer, from: number, to: number): void {
    let at = from;
    while (at < to) {
      switch (this.state) {
        case 'head':
          at = this.readHead(buffer, at, to);
          break;
        case 'length':
        case 'chunk-data':
        case 'until-close': {
          const take = this.state === 'until-close' ? to - at : Math.min(this.remaining, to - at);
          this.remaining -= take;
          at += take;
          this.events.body(take);
          if (this.state === 'length' && this.remaining === 0) this.finish();
          else if (this.state === 'chunk-data' && this.remaining === 0) this.state = 'chunk-crlf';
          break;
        }
        case 'chunk-size':
        case 'chunk-crlf':
        case 'trailers':
          at = this.readLine(buffer, at, to);
          break;
        case 'done':
          // Nothing may follow an answer that was not asked for: the connection is not trusted again.
          throw new ProtocolError('bytes after the end of the answer');
      }
    }
  }

  /** The connection ended: the end of a body framed by it, or a truncated answer. */
  closed(): void {
    if (this.state === 'until-close') {
      this.reusable = false;
      this.finish();
      return;
    }
    if (this.state !== 'done') throw new ProtocolError('connection closed before the answer was complete');
  }

  private readHead(buffer: Buffer, from: number, to: number): number {
    const searchFrom = Math.max(0, this.headText.length - 3);
    // Only the head is turned into text, not the body bytes that came in the same read.
    // Searched within this read only: the rest of a reused buffer holds older reads.
    const inRead = buffer.subarray(from, to).indexOf(HEAD_END);
    const pieceEnd = inRead !== -1 ? from + inRead + HEAD_END.length : Math.min(to, from + HEAD_LIMIT + 1);
    this.headText += buffer.toString('latin1', from, pieceEnd);
    const match = /\r?\n\r?\n/.exec(this.headText.slice(searchFrom));
    if (!match) {
      if (this.headText.length > HEAD_LIMIT) throw new ProtocolError(`status line and headers over ${HEAD_LIMIT} bytes`);
      return pieceEnd;
    }
    const headEnd = searchFrom + match.index;
    // The terminator may come in the same read as the rest of an oversized head: measured here too.
    if (headEnd > HEAD_LIMIT) throw new ProtocolError(`status line and headers over ${HEAD_LIMIT} bytes`);
    const bodyStart = headEnd + match[0].length;
    // Where in this read the body starts: what was taken of it beyond the head is given back.
    const consumed = pieceEnd - (this.headText.length - bodyStart);
    const { status, version, headers } = parseHead(this.headText.slice(0, headEnd));
    this.headText = '';
    if (status >= 100 && status < 200) return consumed;
    this.reusable = version === '1.1' ? !hasToken(headers.connection, 'close') : hasToken(headers.connection, 'keep-alive');
    this.events.head(status, headers);
    this.frameBody(status, headers);
    return consumed;
  }

  private frameBody(status: number, headers: IncomingHttpHeaders): void {
    if (this.method === 'HEAD' || status === 204 || status === 304) return this.finish();
    const transferEncoding = headers['transfer-encoding'];
    if (transferEncoding !== undefined) {
      if (!hasToken(String(transferEncoding).split(',').at(-1), 'chunked')) {
        this.reusable = false;
        this.state = 'until-close';
        return;
      }
      this.state = 'chunk-size';
      return;
    }
    const contentLength = headers['content-length'];
    if (contentLength !== undefined) {
      if (!/^\d+$/.test(String(contentLength))) throw new ProtocolError(`Content-Length ${JSON.stringify(contentLength)}`);
      this.remaining = Number(contentLength);
      if (this.remaining === 0) return this.finish();
      this.state = 'length';
      return;
    }
    this.reusable = false;
    this.state = 'until-close';
  }

  /** Chunk sizes, the CRLF after each chunk's data and the trailers: short lines, read a byte at a time. */
  private readLine(buffer: Buffer, from: number, to: number): number {
    const inRead = buffer.subarray(from, to).indexOf(LF);
    const end = inRead === -1 ? to : from + inRead;
    this.line += buffer.toString('latin1', from, end);
    if (this.line.length > CHUNK_LINE_LIMIT) throw new ProtocolError('chunk framing line too long');
    if (end === to) return to;
    const line = this.line.replace(/\r$/, '');
    this.line = '';
    this.lineRead(line);
    return end + 1;
  }

  private lineRead(line: string): void {
    if (this.state === 'chunk-crlf') {
      if (line !== '') throw new ProtocolError('chunk data longer than its size');
      this.state = 'chunk-size';
      return;
    }
    if (this.state === 'trailers') {
      if (line === '') this.finish();
      return;
    }
    const size = /^([0-9a-fA-F]+)[ \t]*(?:;.*)?$/.exec(line);
    if (!size) throw new ProtocolError(`chunk size ${JSON.stringify(line.slice(0, 40))}`);
    this.remaining = parseInt(size[1] as string, 16);
    this.state = this.remaining === 0 ? 'trailers' : 'chunk-data';
  }

  private finish(): void {
    this.state = 'done';
    this.events.end(this.reusable);
  }
}
