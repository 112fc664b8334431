import type { OtlpAttributes, OtlpValue, ReceivedSpan } from './otlp-receiver.js';

/**
 * OTLP/protobuf for the test receiver: a protobuf wire-format reader written here (protobufjs is
 * not in node_modules, and a reader of the five wire types OTLP uses is small), and the mapping of
 * opentelemetry-proto v1's ExportTraceServiceRequest onto the receiver's ReceivedSpan, the same
 * model its OTLP/JSON path builds.
 *
 * proto3 rules followed: a field left out is its zero value ('' / 0 / empty bytes), a scalar given
 * twice takes the last, a singular message given twice is the merge of both, unknown fields are
 * skipped whatever their wire type (groups excepted: OTLP has none, so one is an error), a string
 * must be valid UTF-8. Every error names the field's path, e.g. resource_spans[0].scope_spans[0].spans[3].trace_id.
 */

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_GROUP_START = 3;
const WIRE_GROUP_END = 4;
const WIRE_I32 = 5;

type WireField =
  | { number: number; wireType: typeof WIRE_VARINT; value: bigint }
  | { number: number; wireType: typeof WIRE_I64 | typeof WIRE_I32 | typeof WIRE_LEN; value: Uint8Array; offset: number };

type FixedWireType = typeof WIRE_I64 | typeof WIRE_I32 | typeof WIRE_LEN;

const WIRE_TYPE_NAMES: Record<number, string> = { 0: 'varint', 1: 'i64', 2: 'length-delimited', 3: 'group start', 4: 'group end', 5: 'i32' };

/** Field numbers are 29 bits; 0 is not one. */
const MAX_FIELD_NUMBER = 2 ** 29 - 1;

/** A varint holds at most 64 bits: 9 bytes of 7 bits and 1 bit of the 10th. */
const MAX_VARINT_BYTES = 10;

/** fatal: proto3 strings must be UTF-8, and a lenient decoder would hide a broken encoder behind U+FFFD. ignoreBOM: a leading U+FEFF is data. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A cursor over one message's bytes. `base` is where they start in the whole body, for errors. */
class WireReader {
  private pos = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly base: number,
    private readonly what: string,
  ) {}

  atEnd(): boolean {
    return this.pos >= this.bytes.length;
  }

  /** Where the cursor is in the whole body. */
  offset(): number {
    return this.base + this.pos;
  }

  varint(): bigint {
    const start = this.offset();
    let value = 0n;
    for (let index = 0; index < MAX_VARINT_BYTES; index++) {
      const byte = this.bytes[this.pos];
      if (byte === undefined) throw new Error(`${this.what}: truncated varint at byte ${start}`);
      this.pos++;
      // The 10th byte has room for bit 63 only; one that goes on is caught after the loop.
      if (index === MAX_VARINT_BYTES - 1 && byte > 1 && (byte & 0x80) === 0) throw new Error(`${this.what}: varint at byte ${start} overflows 64 bits`);
      value |= BigInt(byte & 0x7f) << BigInt(7 * index);
      if ((byte & 0x80) === 0) return value;
    }
    throw new Error(`${this.what}: varint at byte ${start} is longer than ${MAX_VARINT_BYTES} bytes`);
  }

  /** The next `length` bytes of `field` (a description for the error when they are not all there). */
  take(length: number, field: string): Uint8Array {
    const left = this.bytes.length - this.pos;
    if (length > left) throw new Error(`${this.what}: ${field} runs past the end: needs ${length} bytes, ${left} left`);
    const taken = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    return taken;
  }
}

/** One message split into its fields, in wire order, and read by field number the way its schema says. */
class WireMessage {
  private constructor(
    /** The path of this message in the request, for errors; '' for the request itself. */
    readonly what: string,
    private readonly fields: readonly WireField[],
  ) {}

  static parse(bytes: Uint8Array, base: number, what: string): WireMessage {
    const reader = new WireReader(bytes, base, what || 'ExportTraceServiceRequest');
    const fields: WireField[] = [];
    while (!reader.atEnd()) fields.push(readField(reader, what));
    return new WireMessage(what, fields);
  }

  /** The number among `numbers` that came last: proto3's rule for which member of a oneof holds. */
  lastOf(numbers: readonly number[]): number | undefined {
    for (let index = this.fields.length - 1; index >= 0; index--) {
      const number = this.fields[index]?.number;
      if (number !== undefined && numbers.includes(number)) return number;
    }
    return undefined;
  }

  string(number: number, name: string): string {
    const bytes = this.lastFixed(number, WIRE_LEN, name);
    if (bytes === undefined) return '';
    try {
      return utf8.decode(bytes);
    } catch {
      throw new Error(`${this.path(name)} is not valid UTF-8`);
    }
  }

  bytes(number: number, name: string): Uint8Array {
    return this.lastFixed(number, WIRE_LEN, name) ?? new Uint8Array(0);
  }

  /** A varint field as its 64 raw bits; the caller says how they read (int32, int64, bool, ...). */
  varint(number: number, name: string): bigint {
    let value = 0n;
    for (const field of this.occurrences(number, WIRE_VARINT, name)) if (field.wireType === WIRE_VARINT) value = field.value;
    return value;
  }

  fixed64(number: number, name: string): bigint {
    const bytes = this.lastFixed(number, WIRE_I64, name);
    return bytes === undefined ? 0n : dataView(bytes).getBigUint64(0, true);
  }

  double(number: number, name: string): number {
    const bytes = this.lastFixed(number, WIRE_I64, name);
    return bytes === undefined ? 0 : dataView(bytes).getFloat64(0, true);
  }

  fixed32(number: number, name: string): number {
    const bytes = this.lastFixed(number, WIRE_I32, name);
    return bytes === undefined ? 0 : dataView(bytes).getUint32(0, true);
  }

  /** A singular message field; undefined when left out. Given more than once, the parts merge, which for the wire is their concatenation. */
  message(number: number, name: string): WireMessage | undefined {
    const parts = this.lenOccurrences(number, name);
    const first = parts[0];
    if (first === undefined) return undefined;
    const bytes = parts.length === 1 ? first.value : Buffer.concat(parts.map((part) => part.value));
    return WireMessage.parse(bytes, first.offset, this.path(name));
  }

  repeated(number: number, name: string): WireMessage[] {
    return this.lenOccurrences(number, name).map((field, index) => WireMessage.parse(field.value, field.offset, this.path(`${name}[${index}]`)));
  }

  path(name: string): string {
    return this.what === '' ? name : `${this.what}.${name}`;
  }

  /** Every occurrence of a field, each checked to have the wire type its schema gives it. */
  private occurrences(number: number, wireType: number, name: string): WireField[] {
    const found = this.fields.filter((field) => field.number === number);
    for (const field of found) {
      if (field.wireType !== wireType) {
        throw new Error(`${this.path(name)} (field ${number}) came as ${WIRE_TYPE_NAMES[field.wireType]}, not ${WIRE_TYPE_NAMES[wireType]}`);
      }
    }
    return found;
  }

  private lenOccurrences(number: number, name: string): Array<{ value: Uint8Array; offset: number }> {
    return this.occurrences(number, WIRE_LEN, name).flatMap((field) => (field.wireType === WIRE_LEN ? [field] : []));
  }

  private lastFixed(number: number, wireType: FixedWireType, name: string): Uint8Array | undefined {
    const last = this.occurrences(number, wireType, name).at(-1);
    return last === undefined || last.wireType === WIRE_VARINT ? undefined : last.value;
  }
}

/** One tag and its value. Groups (wire types 3 and 4) are refused rather than skipped: OTLP never sends them. */
function readField(reader: WireReader, what: string): WireField {
  const path = what || 'ExportTraceServiceRequest';
  const at = reader.offset();
  const key = reader.varint();
  const number = Number(key >> 3n);
  const wireType = Number(key & 7n);
  const field = `field ${number} (${WIRE_TYPE_NAMES[wireType] ?? `wire type ${wireType}`}) at byte ${at}`;
  if (number === 0 || number > MAX_FIELD_NUMBER) throw new Error(`${path}: invalid field number ${key >> 3n} at byte ${at}`);
  switch (wireType) {
    case WIRE_VARINT:
      return { number, wireType, value: reader.varint() };
    case WIRE_I64:
      return { number, wireType, offset: reader.offset(), value: reader.take(8, field) };
    case WIRE_I32:
      return { number, wireType, offset: reader.offset(), value: reader.take(4, field) };
    case WIRE_LEN: {
      const length = reader.varint();
      const offset = reader.offset();
      // take() refuses a length past the end, but one past 2^53 would not even survive Number().
      if (length > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${path}: ${field} runs past the end: needs ${length} bytes`);
      return { number, wireType, offset, value: reader.take(Number(length), field) };
    }
    case WIRE_GROUP_START:
    case WIRE_GROUP_END:
      throw new Error(`${path}: ${field} is a group, which OTLP does not use`);
    default:
      throw new Error(`${path}: ${field} has a wire type protobuf does not define`);
  }
}

function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** int32 and enums go on the wire sign-extended to 64 bits; the low 32 are the value. */
function int32Of(raw: bigint): number {
  return Number(BigInt.asIntN(32, raw));
}

/** int64 as a number while that is exact, a bigint beyond: the rule of the JSON path's intValue. */
export function int64Value(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/** proto3 does not tell an empty string from one left out; the model says undefined for both. */
function optional(value: string): string | undefined {
  return value === '' ? undefined : value;
}

/** A trace or span id as lowercase hex, refused unless it has exactly its length. */
function idOf(message: WireMessage, number: number, name: string, bytes: number): string {
  const id = message.bytes(number, name);
  if (id.length !== bytes) throw new Error(`${message.path(name)} is ${id.length} bytes, not ${bytes}`);
  return Buffer.from(id).toString('hex');
}

/** The spans of an ExportTraceServiceRequest (resource_spans → scope_spans → spans), flattened. */
export function decodeProtobufExport(body: Uint8Array, exportIndex = 0): ReceivedSpan[] {
  const request = WireMessage.parse(body, 0, '');
  const flat: ReceivedSpan[] = [];
  for (const resourceSpans of request.repeated(1, 'resource_spans')) {
    const resourceMessage = resourceSpans.message(1, 'resource');
    const resource = resourceMessage === undefined ? {} : attributesOf(resourceMessage, 1);
    for (const scopeSpans of resourceSpans.repeated(2, 'scope_spans')) {
      const scope = scopeSpans.message(1, 'scope');
      const batch = {
        resource,
        scopeName: scope?.string(1, 'name') ?? '',
        scopeVersion: optional(scope?.string(2, 'version') ?? ''),
        exportIndex,
      };
      for (const span of scopeSpans.repeated(2, 'spans')) flat.push(spanOf(span, batch));
    }
  }
  return flat;
}

type BatchFields = Pick<ReceivedSpan, 'resource' | 'scopeName' | 'scopeVersion' | 'exportIndex'>;

function spanOf(span: WireMessage, batch: BatchFields): ReceivedSpan {
  const parent = span.bytes(4, 'parent_span_id');
  const status = span.message(15, 'status');
  return {
    traceId: idOf(span, 1, 'trace_id', 16),
    spanId: idOf(span, 2, 'span_id', 8),
    // A root span's parent_span_id is left out (or empty, the same thing in proto3).
    parentSpanId: parent.length === 0 ? undefined : idOf(span, 4, 'parent_span_id', 8),
    traceState: optional(span.string(3, 'trace_state')),
    name: span.string(5, 'name'),
    kind: int32Of(span.varint(6, 'kind')),
    startTimeUnixNano: span.fixed64(7, 'start_time_unix_nano'),
    endTimeUnixNano: span.fixed64(8, 'end_time_unix_nano'),
    attributes: attributesOf(span, 9),
    status: {
      code: status === undefined ? 0 : int32Of(status.varint(3, 'code')),
      message: status?.string(2, 'message') ?? '',
    },
    events: span.repeated(11, 'events').map((event) => ({
      name: event.string(2, 'name'),
      timeUnixNano: event.fixed64(1, 'time_unix_nano'),
      attributes: attributesOf(event, 3),
    })),
    links: span.repeated(13, 'links').map((link) => ({
      traceId: idOf(link, 1, 'trace_id', 16),
      spanId: idOf(link, 2, 'span_id', 8),
      traceState: optional(link.string(3, 'trace_state')),
      attributes: attributesOf(link, 4),
    })),
    flags: span.fixed32(16, 'flags'),
    ...batch,
  };
}

/** A `repeated KeyValue` field (attributes of a resource, scope, span, event or link) as a plain record; a key given twice keeps the last. */
function attributesOf(holder: WireMessage, number: number): OtlpAttributes {
  return keyValuesOf(holder.repeated(number, 'attributes'));
}

function keyValuesOf(list: readonly WireMessage[]): OtlpAttributes {
  const record: OtlpAttributes = {};
  for (const keyValue of list) record[keyValue.string(1, 'key')] = anyValueOf(keyValue.message(2, 'value'));
  return record;
}

const ANY_VALUE_FIELDS = [1, 2, 3, 4, 5, 6, 7] as const;

/** AnyValue's oneof: the member that came last holds; none (or no AnyValue at all) is null. */
function anyValueOf(value: WireMessage | undefined): OtlpValue {
  if (value === undefined) return null;
  switch (value.lastOf(ANY_VALUE_FIELDS)) {
    case 1:
      return value.string(1, 'string_value');
    case 2:
      return value.varint(2, 'bool_value') !== 0n;
    case 3:
      return int64Value(BigInt.asIntN(64, value.varint(3, 'int_value')));
    case 4:
      return value.double(4, 'double_value');
    case 5:
      return (value.message(5, 'array_value')?.repeated(1, 'values') ?? []).map((item) => anyValueOf(item));
    case 6:
      return keyValuesOf(value.message(6, 'kvlist_value')?.repeated(1, 'values') ?? []);
    case 7:
      return Buffer.from(value.bytes(7, 'bytes_value'));
    default:
      return null;
  }
}
