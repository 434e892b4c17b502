// Loads programs/cpu-profile.bpf.o, attaches it to a cpu-clock perf event on every online CPU and drains the
// in-kernel aggregation each window. Kernel requirement: perf_event programs and batch map ops (5.6+), BTF.
import {
  CPU_LOST_REASONS,
  CPU_PROFILE_HEADER,
  CPU_SAMPLE_KEY_SIZE,
  CPU_SAMPLE_VALUE_SIZE,
  decodeCpuSampleKey,
  encodeCpuProfileConfig,
} from '../layouts/cpu-profile.js';
import { BpfObject, type BpfLink, closeFd, onlineCpus, openCpuClockEvent } from '../bpf/libbpf.js';
import { LostCounters } from '../bpf/lost-counters.js';
import { programObjectPath } from '../bpf/program-files.js';
import { WindowProtocol, type StackWindow } from '../bpf/window-protocol.js';
import type { ProgramStats, StackSource } from './types.js';

export interface CpuSourceOptions {
  /** Sampling frequency per CPU. */
  hz: number;
  /** Processes (tgids) to sample; empty: the whole system. */
  pids?: number[];
  /** Keep samples of the idle task (pid 0). */
  includeIdle?: boolean;
}

export class CpuSource implements StackSource {
  readonly kind = 'cpu';
  readonly hz: number;
  private readonly object: BpfObject;
  private readonly links: BpfLink[] = [];
  private readonly windows: WindowProtocol;
  private closing: Promise<void> | null = null;

  private constructor(object: BpfObject, hz: number) {
    this.object = object;
    this.hz = hz;
    this.windows = new WindowProtocol({
      name: 'cpu-profile',
      bss: object.map('.bss'),
      counts: [object.map('counts_0'), object.map('counts_1')],
      stacks: [object.map('stacks_0'), object.map('stacks_1')],
      // A sample's count and stacks are taken together, in the same generation.
      stackLifetime: 1,
      decodeEntry: (key, value, generation) => ({
        ...decodeCpuSampleKey(key),
        stackMap: generation % 2,
        count: Number(value.readBigUInt64LE(0)),
      }),
      lost: new LostCounters(object.map('lost'), CPU_LOST_REASONS),
    });
  }

  /** Opens, loads and attaches. Throws a HotpathError naming the failing step; nothing stays open then. */
  static start(opts: CpuSourceOptions): CpuSource {
    const object = BpfObject.open(programObjectPath('cpu-profile'));
    let source: CpuSource | null = null;
    try {
      object.map('.rodata').setInitialValue(encodeCpuProfileConfig({ pids: opts.pids ?? [], includeIdle: !!opts.includeIdle }));
      object.load();
      for (const name of ['counts_0', 'counts_1']) object.map(name).checkLayout(CPU_SAMPLE_KEY_SIZE, CPU_SAMPLE_VALUE_SIZE, CPU_PROFILE_HEADER);
      source = new CpuSource(object, opts.hz);
      const program = object.program('sample_cpu');
      for (const cpu of onlineCpus()) {
        const fd = openCpuClockEvent(cpu, opts.hz);
        try {
          source.links.push(program.attachPerfEvent(fd, `attach perf event on cpu ${cpu}`));
        } catch (err) {
          closeFd(fd);
          throw err;
        }
      }
      source.windows.restart();
      return source;
    } catch (err) {
      source?.detach();
      object.close();
      throw err;
    }
  }

  get attachedCpus(): number {
    return this.links.length;
  }

  programStats(): ProgramStats[] {
    return [{ program: 'cpu-profile', ...this.object.program('sample_cpu').stats() }];
  }

  drain(): Promise<StackWindow> {
    return this.windows.drain();
  }

  /** Stops sampling (the maps stay readable for a last drain). Idempotent. */
  detach(): void {
    for (const link of this.links.splice(0)) link.destroy();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.detach();
      await this.windows.close();
      this.object.close();
    })();
    return this.closing;
  }
}
