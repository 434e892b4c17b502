// Just enough of the BTF format (include/uapi/linux/btf.h) to read a tracepoint's signature from the
// kernel's BTF: the tracepoint `foo` has `typedef void (*btf_trace_foo)(void *__data, args...)`.
// Pure over a Buffer; bounded by the buffer's size; never throws on bad input.

const BTF_MAGIC = 0xeb9f;
const KIND_PTR = 2;
const KIND_TYPEDEF = 8;
const KIND_FUNC_PROTO = 13;

/** Bytes following the 12-byte common header, by kind; null for kinds this reader does not know. */
function trailingBytes(kind: number, vlen: number): number | null {
  switch (kind) {
    case 1: return 4; // INT
    case 2: case 7: case 8: case 9: case 10: case 11: case 12: case 16: case 18: return 0;
    case 3: return 12; // ARRAY
    case 4: case 5: return 12 * vlen; // STRUCT, UNION
    case 6: return 8 * vlen; // ENUM
    case 13: return 8 * vlen; // FUNC_PROTO
    case 14: return 4; // VAR
    case 15: return 12 * vlen; // DATASEC
    case 17: return 4; // DECL_TAG
    case 19: return 12 * vlen; // ENUM64
    default: return null;
  }
}

export type TracepointArityResult = { ok: true; args: number } | { ok: false; error: string };

/**
 * Number of arguments of tracepoint `name` (without the leading `void *__data`), read from a BTF blob
 * such as /sys/kernel/btf/vmlinux.
 */
export function tracepointArity(btf: Buffer, name: string): TracepointArityResult {
  if (btf.length < 24 || btf.readUInt16LE(0) !== BTF_MAGIC) return { ok: false, error: 'not little-endian BTF' };
  const hdrLen = btf.readUInt32LE(4);
  const typeOff = hdrLen + btf.readUInt32LE(8);
  const typeEnd = typeOff + btf.readUInt32LE(12);
  const strOff = hdrLen + btf.readUInt32LE(16);
  const strEnd = strOff + btf.readUInt32LE(20);
  if (typeEnd > btf.length || strEnd > btf.length) return { ok: false, error: 'BTF sections run past the end' };
  const wanted = Buffer.from(`btf_trace_${name}\0`);

  // Offsets of every type, indexed by type id (id 0 is void).
  const offsets: number[] = [0];
  let typedefTarget = -1;
  for (let off = typeOff; off + 12 <= typeEnd; ) {
    const nameOff = btf.readUInt32LE(off);
    const info = btf.readUInt32LE(off + 4);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const extra = trailingBytes(kind, vlen);
    if (extra === null) return { ok: false, error: `unknown BTF kind ${kind}` };
    offsets.push(off);
    if (kind === KIND_TYPEDEF && typedefTarget < 0) {
      const s = strOff + nameOff;
      if (s + wanted.length <= strEnd && btf.compare(wanted, 0, wanted.length, s, s + wanted.length) === 0) {
        typedefTarget = btf.readUInt32LE(off + 8);
      }
    }
    off += 12 + extra;
  }
  if (typedefTarget < 0) return { ok: false, error: `no tracepoint ${name} in BTF` };

  const ptr = offsets[typedefTarget];
  if (ptr === undefined || ((btf.readUInt32LE(ptr + 4) >>> 24) & 0x1f) !== KIND_PTR) {
    return { ok: false, error: `btf_trace_${name} is not a function pointer` };
  }
  const proto = offsets[btf.readUInt32LE(ptr + 8)];
  if (proto === undefined) return { ok: false, error: `btf_trace_${name} points nowhere` };
  const info = btf.readUInt32LE(proto + 4);
  if (((info >>> 24) & 0x1f) !== KIND_FUNC_PROTO || (info & 0xffff) < 1) {
    return { ok: false, error: `btf_trace_${name} is not a function pointer` };
  }
  return { ok: true, args: (info & 0xffff) - 1 };
}
