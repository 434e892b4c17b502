// A minimal protobuf writer: varints, length-delimited fields and nested messages, which is all the push
// requests need. Messages are written into a growing buffer; a nested message is written to its own writer
// and copied in with its length (request bodies are small next to the profiles they carry).

const WIRE_VARINT = 0;
const WIRE_LEN = 2;

export class ProtobufWriter {
  private buf: Uint8Array;
  private pos = 0;

  constructor(initialBytes = 256) {
    this.buf = new Uint8Array(initialBytes);
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** An unsigned varint (numbers up to 2^53; protobuf lengths and tags never come near it). */
  varint(n: number): this {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`protobuf varint out of range: ${n}`);
    this.reserve(10);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
    return this;
  }

  private tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  /** A varint field; proto3 leaves zero out. */
  uint64(field: number, n: number): this {
    return n === 0 ? this : this.tag(field, WIRE_VARINT).varint(n);
  }

  /** A bytes field (written even when empty: the callers use it for repeated fields). */
  bytes(field: number, data: Uint8Array): this {
    this.tag(field, WIRE_LEN).varint(data.length);
    this.reserve(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
    return this;
  }

  /** A string field (UTF-8); proto3 leaves "" out. */
  string(field: number, s: string): this {
    return s === '' ? this : this.bytes(field, Buffer.from(s, 'utf8'));
  }

  /** A nested message field, written by `write` into a writer of its own. */
  message(field: number, write: (w: ProtobufWriter) => void): this {
    const inner = new ProtobufWriter();
    write(inner);
    return this.bytes(field, inner.finish());
  }

  /** The bytes written so far (a view, valid until the next write). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}
