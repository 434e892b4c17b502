// Builds one file's unwind table off the agent's event loop (a worker thread). The main thread opened the
// file (safely, inside the process's root) and passes the descriptor; this thread reads the headers and the
// CFI section at their offsets (bounded by the parser) and answers with the rows and the PT_LOAD segments the
// main thread needs for load biases.
import { parentPort } from 'node:worker_threads';
import { parseElf, PT_LOAD } from '../symbolize/elf.js';
import { fdSource } from '../symbolize/file-reads.js';
import { buildUnwindTable } from './unwind-table.js';

export interface BuildRequest {
  id: number;
  fd: number;
  size: number;
}

export interface BuiltSegment {
  offset: bigint;
  vaddr: bigint;
  filesz: bigint;
  flags: number;
}

export type BuildResponse =
  | { id: number; ok: true; rows: ArrayBuffer; count: number; loads: BuiltSegment[]; source: string; buildMs: number }
  | { id: number; ok: false; error: string };

export function buildFromFd(req: BuildRequest): BuildResponse {
  const t0 = performance.now();
  try {
    // Read at offsets, not whole: only the headers and the CFI section are needed.
    const src = fdSource(req.fd, req.size);
    const parsed = parseElf(src, { skipSymbols: true });
    if (!parsed.ok) return { id: req.id, ok: false, error: parsed.error };
    const table = buildUnwindTable(src);
    if (table.error && table.count === 0 && table.stats.source === 'none') {
      return { id: req.id, ok: false, error: table.error };
    }
    const loads = parsed.elf.loads
      .filter((s) => s.type === PT_LOAD)
      .map((s) => ({ offset: s.offset, vaddr: s.vaddr, filesz: s.filesz, flags: s.flags }));
    // Transferred as it is when the rows start a buffer of their own (RowWriter.finish; the receiver reads
    // `count` rows, slack after them is ignored), else copied into one (an empty table's pooled buffer).
    let rows = table.rows.buffer as ArrayBuffer;
    if (table.rows.byteOffset !== 0 || table.rows.length < 4096) {
      const own = new Uint8Array(table.rows.length);
      own.set(table.rows);
      rows = own.buffer;
    }
    return { id: req.id, ok: true, rows, count: table.count, loads, source: table.stats.source, buildMs: performance.now() - t0 };
  } catch (err) {
    return { id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

parentPort?.on('message', (req: BuildRequest) => {
  const res = buildFromFd(req);
  parentPort!.postMessage(res, res.ok ? [res.rows] : []);
});
