// Loads programs/io.bpf.o (block_io_start, block_rq_issue, block_rq_complete) and drains I/O time per
// {submitting thread, kernel and user stacks, device, operation} each window. Kernel requirement: BTF;
// tp_btf, else raw_tp; block_io_start (6.5+) to attribute requests to the task that submitted them (without
// it, to the task that issued them to the driver, see programs/io.bpf.c).
import { tracepointArity } from '../bpf/btf.js';
import { LostCounters } from '../bpf/lost-counters.js';
import { AttachedTwins, type AttachVariant } from '../bpf/load-twins.js';
import type { BpfObject } from '../bpf/libbpf.js';
import { WindowProtocol, type StackWindow } from '../bpf/window-protocol.js';
import { decodeIoKey, decodeIoValue, encodeIoConfig, IO_HEADER, IO_KEY_SIZE, IO_LOST_REASONS, IO_STACK_MAPS, IO_VALUE_SIZE } from '../layouts/io.js';
import { copyUserStack, decodeUserStack, USER_STACK_SIZE } from '../layouts/unwind.js';
import type { ProcessTables } from '../unwind/process-tables.js';
import { UNWIND_ROW_SIZE } from '../unwind/rows.js';
import { blockDeviceName, issueRequestArgFromBtf, readKernelBtf } from './biolatency.js';
import { DEFAULT_UNWIND_TABLE_BYTES, readUnwindStats, walkerTables, type SharedUnwindTables, type UnwindMode, type UnwindStats } from './cpu.js';
import type { ProgramStats, StackSource } from './types.js';

export interface IoSourceOptions {
  /** Processes (tgids) whose requests are counted; empty: the whole system. */
  pids?: number[];
  variant?: AttachVariant;
  /** User stacks: 'dwarf' walks unwind tables (frame pointers where none), 'fp' frame pointers only. */
  unwind?: UnwindMode;
  unwindTableBytes?: number;
  /** The CPU source's tables, shared rather than built and held twice. */
  shareTables?: SharedUnwindTables;
  /** BTF to read the tracepoints' signatures from (default /sys/kernel/btf/vmlinux). */
  btfPath?: string;
  log?: (line: string) => void;
}


export class IoSource implements StackSource {
  readonly kind = 'io';
  readonly variant: AttachVariant;
  /** Whether the kernel has block_io_start: requests are then attributed to the task that submitted them. */
  readonly submitterHook: boolean;
  private readonly twins: AttachedTwins;
  private readonly windows: WindowProtocol;
  private tables: ProcessTables | null = null;
  private ownTables = false;
  private closing: Promise<void> | null = null;
  /** "major:minor" -> the kernel's device name, looked up once per device. */
  private readonly deviceNames = new Map<string, string>();
  /** One labels object per (device, operation), shared by the samples that carry it. */
  private readonly labelSets = new Map<string, Readonly<Record<string, string>>>();
  /** Recursion misses of the issue and completion programs at the last drain. */
  private missed = 0n;

  private constructor(twins: AttachedTwins, submitterHook: boolean) {
    this.twins = twins;
    this.variant = twins.variant;
    this.submitterHook = submitterHook;
    this.windows = this.windowsOf(twins.object);
    this.windows.restart();
  }

  /** Opens, loads and attaches. Throws a HotpathError naming the failing step; nothing stays open then. */
  static start(opts: IoSourceOptions = {}): IoSource {
    const btf = readKernelBtf(opts.btfPath);
    const issueRequestArg = issueRequestArgFromBtf(btf);
    const submitterHook = tracepointArity(btf, 'block_io_start').ok;
    const walker = (opts.unwind ?? 'dwarf') === 'dwarf';
    const config = encodeIoConfig({ pids: opts.pids ?? [], unwindTables: walker, issueRequestArg });
    const shared = walker ? opts.shareTables : undefined;
    const bases = submitterHook ? ['io_start', 'io_issue', 'io_complete'] : ['io_issue', 'io_complete'];
    const twins = AttachedTwins.start(
      'io',
      bases,
      (object) => {
        object.map('.rodata').setInitialValue(config);
        if (!submitterHook) {
          object.program('io_start_btf').setAutoload(false);
          object.program('io_start_raw').setAutoload(false);
        }
        if (shared) {
          object.map('unwind_rows').reuseFd(shared.rows.fd);
          object.map('unwind_procs').reuseFd(shared.procs.fd);
        } else {
          const bytes = walker ? (opts.unwindTableBytes ?? DEFAULT_UNWIND_TABLE_BYTES) : 0;
          object.map('unwind_rows').setMaxEntries(Math.max(1, Math.floor(bytes / UNWIND_ROW_SIZE)));
        }
      },
      (object) => {
        for (const name of ['counts_0', 'counts_1']) object.map(name).checkLayout(IO_KEY_SIZE, IO_VALUE_SIZE, IO_HEADER);
        for (let i = 0; i < IO_STACK_MAPS; i++) {
          for (const name of [`stacks_${i}`, `user_stacks_${i}`]) object.map(name).checkLayout(8, USER_STACK_SIZE, 'programs/unwind.h');
        }
      },
      opts.variant,
    );
    try {
      const source = new IoSource(twins, submitterHook);
      if (!submitterHook) opts.log?.('hotpath: io: no block_io_start in this kernel (before 6.5): requests go to the task that issued them to the driver');
      if (walker) ({ tables: source.tables, ownTables: source.ownTables } = walkerTables(twins.object, shared, opts.pids, opts.log));
      return source;
    } catch (err) {
      twins.close();
      throw err;
    }
  }

  /** The walker's counters of this program; table state only when it owns its tables (else see the CPU source). */
  unwindStats(): UnwindStats {
    return readUnwindStats(this.twins.object.map('unwind_counters'), this.ownTables ? this.tables : null);
  }

  programStats(): ProgramStats[] {
    return this.twins.programStats();
  }

  /** Records of requests started and not completed yet (plus those of requests merged away, until reused). */
  requestRecordCount(): number {
    return this.twins.object.map('requests').keys().length;
  }

  async drain(): Promise<StackWindow> {
    const w = await this.windows.drain();
    w.lost.io_event_missed = this.missedSinceLastDrain();
    // Processes that do I/O may never be CPU-sampled: they get their tables from here too.
    this.tables?.refresh(new Set(w.samples.map((s) => s.pid)));
    return w;
  }

  // A drain ends the window at its flip; requests in flight then are counted when they complete.
  detach(): void {}

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.ownTables) this.tables?.close();
      await this.windows.close();
      this.twins.close();
    })();
    return this.closing;
  }

  /**
   * Requests lost because the kernel skipped our issue or completion program (it was already running on that
   * CPU, under the interrupt that completed another request): the kernel counts these runs, we cannot.
   */
  private missedSinceLastDrain(): number {
    let total = 0n;
    for (const p of this.twins.programStats()) if (!p.program.startsWith('io_start')) total += p.recursionMisses ?? 0n;
    const delta = Number(total - this.missed);
    this.missed = total;
    return delta;
  }

  private labelsOf(major: number, minor: number, operation: string): Readonly<Record<string, string>> {
    const key = `${major}:${minor}:${operation}`;
    let labels = this.labelSets.get(key);
    if (labels === undefined) {
      const dev = `${major}:${minor}`;
      let device = this.deviceNames.get(dev);
      if (device === undefined) {
        device = major === 0 && minor === 0 ? 'none' : blockDeviceName(major, minor);
        this.deviceNames.set(dev, device);
      }
      labels = Object.freeze({ device, operation });
      this.labelSets.set(key, labels);
    }
    return labels;
  }

  private windowsOf(o: BpfObject): WindowProtocol {
    return new WindowProtocol({
      name: 'io',
      bss: o.map('.bss'),
      counts: [o.map('counts_0'), o.map('counts_1')],
      stacks: Array.from({ length: IO_STACK_MAPS }, (_, i) => o.map(`stacks_${i}`)),
      kernelStacks: { decode: decodeUserStack },
      userStacks: {
        maps: Array.from({ length: IO_STACK_MAPS }, (_, i) => o.map(`user_stacks_${i}`)),
        decode: copyUserStack,
        rotate: true,
      },
      // Stacks are taken when a request starts and counted when it completes, possibly one window later.
      stackLifetime: 2,
      decodeEntry: (key, value) => {
        const k = decodeIoKey(key);
        const { totalNs, count } = decodeIoValue(value);
        return {
          pid: k.pid, tid: k.tid, comm: k.comm, kernelStackId: k.kernelStack, userStackId: k.userStack, stackMap: k.stackMap,
          count: Number(count), totalNs: Number(totalNs), labels: this.labelsOf(k.major, k.minor, k.operation),
        };
      },
      lost: new LostCounters(o.map('lost'), IO_LOST_REASONS),
    });
  }
}
