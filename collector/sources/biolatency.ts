// Loads programs/biolatency.bpf.o (block_rq_issue -> block_rq_complete) and reads its cumulative latency
// histograms per (disk, operation). Kernel requirement: BTF at /sys/kernel/btf/vmlinux; tp_btf, else raw_tp.
import { readFileSync } from 'node:fs';
import { ErrorCodes, HotpathError } from '../errors.js';
import { possibleCpuCount, type BpfMap } from '../bpf/libbpf.js';
import {
  BIO_HIST_KEY_SIZE,
  BIOLATENCY_HEADER,
  BIOLATENCY_LOST_REASONS,
  type BiolatencyLostReason,
  type BioOperation,
  decodeBioHistKey,
  encodeBiolatencyConfig,
  parseUeventDevname,
} from '../layouts/biolatency.js';
import { tracepointArity } from '../bpf/btf.js';
import { AttachedTwins, type AttachVariant } from '../bpf/load-twins.js';
import { decodePerCpuLog2Hist, LOG2_HIST_SIZE } from '../layouts/log2-hist.js';
import type { HistogramSeries } from './types.js';
import { TwinsLatencySource } from './twins-latency-source.js';

export interface BiolatencySourceOptions {
  variant?: AttachVariant;
  /** BTF to read block_rq_issue's signature from (default /sys/kernel/btf/vmlinux). */
  btfPath?: string;
}

export interface BioHistogram {
  major: number;
  minor: number;
  operation: BioOperation;
  slots: bigint[];
  sumNs: bigint;
}

const BASES = ['bio_issue', 'bio_complete'];
const VMLINUX_BTF = '/sys/kernel/btf/vmlinux';

/** The kernel's BTF (default /sys/kernel/btf/vmlinux), for the block programs' signature checks. */
export function readKernelBtf(path = VMLINUX_BTF): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new HotpathError(ErrorCodes.LOAD_OBJECT, `read kernel BTF ${path}: ${(err as Error).message}`);
  }
}

/**
 * Index of `struct request *` among block_rq_issue's arguments: 1 when the tracepoint still passes the
 * `struct request_queue *` first (before 5.11 / 5.10.137), else 0.
 */
export function issueRequestArgFromBtf(btf: Buffer): 0 | 1 {
  const arity = tracepointArity(btf, 'block_rq_issue');
  if (!arity.ok) throw new HotpathError(ErrorCodes.LOAD_OBJECT, `read block_rq_issue signature from BTF: ${arity.error}`);
  return arity.args >= 2 ? 1 : 0;
}

/** The kernel's name of a block device ("vda"), from /sys/dev/block/MAJ:MIN/uevent; "MAJ:MIN" otherwise. */
export function blockDeviceName(major: number, minor: number): string {
  try {
    return parseUeventDevname(readFileSync(`/sys/dev/block/${major}:${minor}/uevent`, 'utf8')) ?? `${major}:${minor}`;
  } catch {
    return `${major}:${minor}`;
  }
}

export class BiolatencySource extends TwinsLatencySource<BiolatencyLostReason> {
  readonly issueRequestArg: 0 | 1;
  private readonly hists: BpfMap;
  /** Device names are looked up once per device: they do not change while the device exists. */
  private readonly deviceNames = new Map<string, string>();

  private constructor(twins: AttachedTwins, issueRequestArg: 0 | 1) {
    super(twins, BIOLATENCY_LOST_REASONS);
    this.issueRequestArg = issueRequestArg;
    this.hists = twins.object.map('hists');
  }

  /** Opens, loads and attaches. Throws a HotpathError naming the failing step; nothing stays open then. */
  static start(opts: BiolatencySourceOptions = {}): BiolatencySource {
    const issueRequestArg = issueRequestArgFromBtf(readKernelBtf(opts.btfPath));
    const twins = AttachedTwins.start(
      'biolatency',
      BASES,
      (object) => object.map('.rodata').setInitialValue(encodeBiolatencyConfig({ issueRequestArg })),
      (object) => object.map('hists').checkLayout(BIO_HIST_KEY_SIZE, LOG2_HIST_SIZE, BIOLATENCY_HEADER),
      opts.variant,
    );
    return new BiolatencySource(twins, issueRequestArg);
  }

  /** Every (disk, operation) seen since start with its cumulative histogram, summed over CPUs. */
  read(): BioHistogram[] {
    const value = Buffer.alloc(LOG2_HIST_SIZE * possibleCpuCount());
    const out: BioHistogram[] = [];
    for (const key of this.hists.keys()) {
      if (!this.hists.lookup(key, value)) continue; // cannot happen: entries are never deleted
      out.push({ ...decodeBioHistKey(key), ...decodePerCpuLog2Hist(value) });
    }
    return out;
  }

  series(): HistogramSeries[] {
    return this.read().map((h) => ({
      attributes: { device: this.deviceName(h.major, h.minor), operation: h.operation },
      histogram: { slots: h.slots, sumNs: h.sumNs },
    }));
  }


  private deviceName(major: number, minor: number): string {
    const key = `${major}:${minor}`;
    let name = this.deviceNames.get(key);
    if (name === undefined) {
      name = blockDeviceName(major, minor);
      this.deviceNames.set(key, name);
    }
    return name;
  }
}
