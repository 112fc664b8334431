/**
 * porthole's protobuf writer (src/observability/tracing/otlp/proto-writer.ts), byte for byte
 * against the protobuf encoding rules: varints, two's complement int64, fixed64 nanosecond times
 * made without a double overflowing (checked against BigInt), UTF-8 strings on both of the
 * writer's paths, and nested messages whose length needs more than one byte.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProtoWriter } from '../../src/observability/tracing/otlp/proto-writer.js';

function written(write: (writer: ProtoWriter) => void, initialBytes = 8): string {
  const writer = new ProtoWriter(initialBytes);
  write(writer);
  return writer.bytes().toString('hex');
}

/** The protobuf varint of a non-negative bigint, as the specification defines it. */
function varintOf(value: bigint): string {
  const bytes: number[] = [];
  let rest = value;
  do {
    const low = Number(rest & 0x7fn);
    rest >>= 7n;
    bytes.push(rest > 0n ? low | 0x80 : low);
  } while (rest > 0n);
  return Buffer.from(bytes).toString('hex');
}

describe('ProtoWriter', () => {
  test('varints: one byte below 128, then seven bits a byte, low bits first', () => {
    assert.equal(written((w) => w.varint(0)), '00');
    assert.equal(written((w) => w.varint(127)), '7f');
    assert.equal(written((w) => w.varint(128)), '8001');
    assert.equal(written((w) => w.varint(300)), 'ac02');
    assert.equal(written((w) => w.varint(2 ** 32)), varintOf(2n ** 32n));
    assert.equal(written((w) => w.varint(Number.MAX_SAFE_INTEGER)), varintOf(BigInt(Number.MAX_SAFE_INTEGER)));
  });

  test('tags: field number and wire type in one varint', () => {
    assert.equal(written((w) => w.tag(1, 2)), '0a');
    assert.equal(written((w) => w.tag(16, 5)), '8501');
  });

  test('int64: negative values as 64-bit two\'s complement, ten bytes', () => {
    assert.equal(written((w) => w.int64(-1)), 'ffffffffffffffffff01');
    assert.equal(written((w) => w.int64(-2)), varintOf(2n ** 64n - 2n));
    assert.equal(written((w) => w.int64(Number.MIN_SAFE_INTEGER)), varintOf(2n ** 64n + BigInt(Number.MIN_SAFE_INTEGER)));
    assert.equal(written((w) => w.int64(42)), '2a');
  });

  test('fixed32 and double: little-endian', () => {
    assert.equal(written((w) => w.fixed32(0x301)), '01030000');
    const double = Buffer.alloc(8);
    double.writeDoubleLE(1.5);
    assert.equal(written((w) => w.double(1.5)), double.toString('hex'));
  });

  test('fixed64 times: seconds × 10^9 + nanoseconds exactly, where a double would round', () => {
    const cases: Array<[number, number]> = [
      [0, 0],
      [0, 999_999_999],
      [1, 0],
      [1_795_000_000, 123_456_789],
      [4_294_967_295, 999_999_999],
      [65_535, 1],
      [65_536, 0],
    ];
    for (let i = 0; i < 500; i += 1) cases.push([Math.floor(Math.random() * 2 ** 32), Math.floor(Math.random() * 1e9)]);
    for (const [seconds, nanos] of cases) {
      const expected = Buffer.alloc(8);
      expected.writeBigUInt64LE(BigInt(seconds) * 1_000_000_000n + BigInt(nanos));
      assert.equal(written((w) => w.fixed64Time(seconds, nanos)), expected.toString('hex'), `[${seconds}, ${nanos}]`);
    }
  });

  test('strings: a varint length then UTF-8, on the short ASCII path, the short non-ASCII one and the long one', () => {
    const cases = ['', 'GET', 'porthole.repo', 'café ✓', '日本語のリポジトリ', 'é'.repeat(42), 'a'.repeat(42), 'a'.repeat(43), 'x'.repeat(200), 'ü'.repeat(100), '😀 emoji', 'a'.repeat(41) + '✓'];
    for (const value of cases) {
      const utf8 = Buffer.from(value, 'utf8');
      assert.equal(written((w) => w.string(value)), varintOf(BigInt(utf8.length)) + utf8.toString('hex'), JSON.stringify(value));
    }
  });

  test('ids: hex turned into bytes after their length; a string that is not hex is refused', () => {
    assert.equal(written((w) => w.hexBytes('0af7651916cd43dd8448eb211c80319c')), '10' + '0af7651916cd43dd8448eb211c80319c');
    assert.throws(() => written((w) => w.hexBytes('zzzz')), /not an id in hex/);
  });

  test('nested messages: a one-byte length widened when the content reaches 128 bytes, the content kept', () => {
    for (const size of [0, 1, 127, 128, 300, 20_000]) {
      const content = Buffer.alloc(size, 0x5a);
      const hex = written((w) => {
        w.tag(1, 2);
        const mark = w.begin();
        w.raw(content);
        w.end(mark);
        w.varint(7);
      });
      assert.equal(hex, '0a' + varintOf(BigInt(size)) + content.toString('hex') + '07', `content of ${size} bytes`);
    }
  });

  test('nested messages inside nested messages, each length right', () => {
    const hex = written((w) => {
      const outer = w.begin();
      w.tag(2, 2);
      const inner = w.begin();
      w.raw(Buffer.alloc(130, 1));
      w.end(inner);
      w.end(outer);
    });
    // inner: tag 12, length 130 (8201), 130 bytes; outer: 1 + 2 + 130 = 133 (8501).
    assert.equal(hex, '8501' + '12' + '8201' + '01'.repeat(130));
  });

  test('truncate takes back what was written after a point', () => {
    const writer = new ProtoWriter(4);
    writer.varint(1);
    const point = writer.length;
    writer.string('taken back');
    writer.truncate(point);
    writer.varint(2);
    assert.equal(writer.bytes().toString('hex'), '0102');
  });
});
