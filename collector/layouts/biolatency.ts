// Mirrors programs/biolatency.h: struct bio_hist_key, enum bio_op, enum biolatency_lost_reason and struct
// biolatency_config (little-endian). The histogram values are struct log2_hist (./log2-hist.ts).
import { requireBytes } from './common.js';

export const BIOLATENCY_HEADER = 'programs/biolatency.h';
export const BIO_HIST_KEY_SIZE = 12;
export const BIOLATENCY_CONFIG_SIZE = 4;

/** enum bio_op, by index: the `operation` label values. */
export const BIO_OPERATIONS = ['read', 'write', 'flush', 'discard', 'other'] as const;
export type BioOperation = (typeof BIO_OPERATIONS)[number];

/** enum biolatency_lost_reason, by index: the `reason` label values. */
export const BIOLATENCY_LOST_REASONS = ['biolatency_start_map_full', 'biolatency_hist_map_full'] as const;
export type BiolatencyLostReason = (typeof BIOLATENCY_LOST_REASONS)[number];

export interface BioHistKey {
  major: number;
  minor: number;
  operation: BioOperation;
}

/** Decodes struct bio_hist_key; a shorter buffer is HP_ERR_LAYOUT. An unknown op decodes as 'other'. */
export function decodeBioHistKey(buf: Buffer): BioHistKey {
  requireBytes(buf, BIO_HIST_KEY_SIZE, 'bio histogram key');
  const op = buf.readUInt32LE(8);
  return { major: buf.readUInt32LE(0), minor: buf.readUInt32LE(4), operation: BIO_OPERATIONS[op] ?? 'other' };
}

export function encodeBiolatencyConfig(opts: { issueRequestArg: 0 | 1 }): Buffer {
  const buf = Buffer.alloc(BIOLATENCY_CONFIG_SIZE);
  buf.writeUInt32LE(opts.issueRequestArg, 0);
  return buf;
}

/** DEVNAME= of a /sys/dev/block/MAJ:MIN/uevent file ("vda", "nvme0n1p2"); null when absent. */
export function parseUeventDevname(text: string): string | null {
  for (const line of text.split('\n', 64)) {
    if (line.startsWith('DEVNAME=')) {
      const name = line.slice('DEVNAME='.length).trim();
      return name.length > 0 && name.length <= 255 ? name : null;
    }
  }
  return null;
}
