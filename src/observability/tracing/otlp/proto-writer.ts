/** Protobuf wire types (the low 3 bits of a field's tag). */
export const VARINT = 0;
export const FIXED64 = 1;
export const LENGTH_DELIMITED = 2;
export const FIXED32 = 5;

const TWO_32 = 2 ** 32;
const NANOS_PER_SECOND = 1_000_000_000;

/**
 * Writes protobuf messages into one growing Buffer, outside V8's heap: what a span becomes when
 * it ends (span-encoding.ts), so that the span itself can be collected young instead of being
 * copied by every collection until its batch is sent. A nested message is written in place after
 * a one-byte length, which is widened afterwards in the rare case the message is 128 bytes or
 * longer (a span is, its attributes are not).
 */
export class ProtoWriter {
  private buffer: Buffer;
  private position = 0;

  constructor(initialBytes = 16 * 1024) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  get length(): number {
    return this.position;
  }

  /** What was written: a view of the writer's memory, valid until it writes again. */
  bytes(): Buffer {
    return this.buffer.subarray(0, this.position);
  }

  /** Forgets what was written (a span whose encoding failed half-way is taken back). */
  truncate(length: number): void {
    this.position = length;
  }

  tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  /** An unsigned varint below 2^53 (lengths, counts, enums, tags). */
  varint(value: number): void {
    this.reserve(10);
    let rest = value;
    while (rest >= 0x80) {
      this.buffer[this.position++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.buffer[this.position++] = rest;
  }

  /** An int64 field: negative values as their 64-bit two's complement, ten bytes long. */
  int64(value: number): void {
    if (value >= 0 && Number.isSafeInteger(value)) return this.varint(value);
    this.reserve(10);
    let rest = BigInt.asUintN(64, BigInt(Math.trunc(value)));
    while (rest >= 0x80n) {
      this.buffer[this.position++] = Number(rest & 0x7fn) | 0x80;
      rest >>= 7n;
    }
    this.buffer[this.position++] = Number(rest);
  }

  fixed32(value: number): void {
    this.reserve(4);
    this.buffer.writeUInt32LE(value >>> 0, this.position);
    this.position += 4;
  }

  double(value: number): void {
    this.reserve(8);
    this.buffer.writeDoubleLE(value, this.position);
    this.position += 8;
  }

  /**
   * An OpenTelemetry time ([seconds, nanoseconds]) as fixed64 nanoseconds since the epoch. The
   * product exceeds 2^53, so it is made exactly from 16-bit parts of the seconds, not as one double.
   */
  fixed64Time(seconds: number, nanos: number): void {
    const high16 = Math.floor(seconds / 0x10000);
    const low16 = seconds % 0x10000;
    const upper = high16 * NANOS_PER_SECOND; // < 2^46: exact; worth upper * 2^16
    const upperHigh = Math.floor(upper / TWO_32);
    const rest = (upper - upperHigh * TWO_32) * 0x10000 + low16 * NANOS_PER_SECOND + nanos; // < 2^49: exact
    const restHigh = Math.floor(rest / TWO_32);
    this.reserve(8);
    this.buffer.writeUInt32LE(rest - restHigh * TWO_32, this.position);
    this.buffer.writeUInt32LE((upperHigh * 0x10000 + restHigh) >>> 0, this.position + 4);
    this.position += 8;
  }

  /** A length-delimited field of `hex` turned into bytes (trace and span ids). */
  hexBytes(hex: string): void {
    const size = hex.length >>> 1;
    this.varint(size);
    this.reserve(size);
    const written = this.buffer.write(hex, this.position, size, 'hex');
    if (written !== size) throw new Error(`not an id in hex: ${JSON.stringify(hex)}`);
    this.position += size;
  }

  /** A string (or bytes) field's length and UTF-8 content. */
  string(value: string): void {
    if (value.length < 43) {
      // At most 3 bytes a UTF-16 unit: fewer than 128 bytes, so the length takes one byte.
      this.reserve(1 + value.length * 3);
      // Attribute keys and most values are short ASCII: copied here, a byte a character, which
      // costs less than a call into Buffer's native UTF-8 encoder for each.
      const start = this.position + 1;
      let index = 0;
      for (; index < value.length; index += 1) {
        const code = value.charCodeAt(index);
        if (code >= 0x80) break;
        this.buffer[start + index] = code;
      }
      if (index === value.length) {
        this.buffer[this.position] = index;
        this.position = start + index;
        return;
      }
      const written = this.buffer.write(value, this.position + 1, 'utf8');
      this.buffer[this.position] = written;
      this.position += 1 + written;
      return;
    }
    const size = Buffer.byteLength(value, 'utf8');
    this.varint(size);
    this.reserve(size);
    this.position += this.buffer.write(value, this.position, size, 'utf8');
  }

  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.position);
    this.position += bytes.length;
  }

  /** Starts a nested message (after its field's tag); `end` with what this returns writes its length. */
  begin(): number {
    this.reserve(1);
    return this.position++;
  }

  end(mark: number): void {
    const size = this.position - mark - 1;
    if (size < 0x80) {
      this.buffer[mark] = size;
      return;
    }
    let lengthBytes = 1;
    for (let rest = size; rest >= 0x80; rest = Math.floor(rest / 0x80)) lengthBytes += 1;
    this.reserve(lengthBytes - 1);
    this.buffer.copyWithin(mark + lengthBytes, mark + 1, this.position);
    const content = this.position;
    this.position = mark;
    this.varint(size);
    this.position = content + lengthBytes - 1;
  }

  private reserve(bytes: number): void {
    if (this.position + bytes <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.position + bytes) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buffer.copy(grown, 0, 0, this.position);
    this.buffer = grown;
  }
}
