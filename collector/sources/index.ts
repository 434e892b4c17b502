// One interface over the stack-sampling programs (CPU and off-CPU) for `record` and `serve`.
import { CpuProfiler } from './cpu.js';
import type { ProfileKind, RawStackSample } from '../windows/window-profile.js';

export interface StackWindow {
  startNs: bigint;
  endNs: bigint;
  samples: RawStackSample[];
  lost: Record<string, number>;
}

export interface ProfileSource {
  kind: ProfileKind;
  drain(): Promise<StackWindow>;
  /** Stops collecting; a last drain still reads what was collected. */
  detach(): void;
  close(): void;
  programStats(): { program: string; runTimeNs: bigint; runCount: bigint }[];
}

export interface ProfileSourceOptions {
  hz: number;
  pids: number[];
  includeIdle: boolean;
  minBlockNs: number;
}

export async function startProfileSource(kind: ProfileKind, opts: ProfileSourceOptions): Promise<ProfileSource> {
  if (kind === 'cpu') {
    const p = CpuProfiler.start({ hz: opts.hz, pids: opts.pids, includeIdle: opts.includeIdle });
    return {
      kind,
      drain: () => p.drain(),
      detach: () => p.detach(),
      close: () => p.close(),
      programStats: () => [{ program: 'cpu-profile', ...p.programStats() }],
    };
  }
  const { startOffcpuSource } = await import('./offcpu-source.js');
  return startOffcpuSource(opts);
}
