// `hotpath record`: one profile of the next N seconds, written to a file.
import { mergeProfileData, type ProfileData } from '../../../exporters/pprof/index.js';
import type { Command } from '../command.js';
import { parseUnwindFlags, UNWIND_HELP, UNWIND_OPTIONS } from '../unwind-flags.js';
import { ErrorCodes, HotpathError } from '../../errors.js';
import { parseChoice, parseDuration, parseInteger, parsePids } from '../flags.js';
import { missingPrivileges } from '../../bpf/libbpf.js';
import { describeInRootResolver } from '../../bpf/open-in-root.js';
import { outputFormatOf, writeProfileFile } from '../../windows/output-formats.js';
import { Symbolizer } from '../../symbolize/index.js';
import { buildWallWindowProfile, buildWindowProfile, summarizeProfile } from '../../windows/window-profile.js';
import {
  PROFILE_KINDS,
  startStackSource,
  type CpuSource,
  type OffcpuSource,
  type ProfileKind,
  type StackSource,
  type StackWindow,
  type UnwindStats,
} from '../../sources/index.js';

const HELP = `Usage: hotpath record [flags]

Records one CPU, off-CPU, wall-clock or block I/O profile of the whole system or of chosen processes and writes
it to a file.

Flags:
  --type cpu|offcpu|wall|io
                      what to profile (default cpu). wall: where each thread's time went, on CPU or not,
                      with a state label (running, runnable, io, lock, sleeping) and the values
                      wall, cpu and offcpu (nanoseconds); it runs the CPU and off-CPU programs together.
                      io: block I/O time (issue to completion) by the stack that submitted each request,
                      with device and operation labels (kernel 6.5+ for the submitter; before, the task
                      that issued it)
  --duration SECONDS  how long to record (default 10; also 500ms, 2m)
  --hz N              CPU samples per second per CPU (default 99, 1-10000)
  --pid N             profile only this process; repeat for more (default: every process)
  --output FILE       where to write; the format follows the name:
                        .pb.gz  gzipped pprof (go tool pprof FILE)
                        .folded folded stacks (one "a;b;c count" line per stack)
                        .svg    interactive flamegraph
                        .html   interactive flamegraph page
                      (default cpu.pb.gz, or offcpu.pb.gz / wall.pb.gz / io.pb.gz with --type offcpu / wall / io)
  --min-block DURATION off-CPU: ignore blocks shorter than this (default 1us; e.g. 500us, 1ms); the wall
                      profile still counts them, with their kernel stack only, so its time adds up
${UNWIND_HELP}  --include-idle      keep samples of the idle task (pid 0)
  -h, --help          this help

Needs root, or CAP_BPF + CAP_PERFMON. Prints a progress line on a terminal and a summary on stderr.
`;

/** Drains every this many seconds during long recordings so kernel maps never fill. */
const RECORD_WINDOW_S = 10;

export const recordCommand: Command = {
  name: 'record',
  summary: 'record one profile to a file',
  help: HELP,
  options: {
    type: { type: 'string', default: 'cpu' },
    duration: { type: 'string', default: '10' },
    hz: { type: 'string', default: '99' },
    pid: { type: 'string', multiple: true },
    output: { type: 'string' },
    'min-block': { type: 'string', default: '1us' },
    ...UNWIND_OPTIONS,
    'include-idle': { type: 'boolean', default: false },
  },
  async run(values) {
    const kind = parseChoice<ProfileKind>('--type', values.type as string, PROFILE_KINDS);
    const duration = parseDuration('--duration', values.duration as string);
    const hz = parseInteger('--hz', values.hz as string, 1, 10_000);
    const pids = parsePids('--pid', values.pid as string[] | undefined);
    const output = (values.output as string | undefined) ?? `${kind}.pb.gz`;
    outputFormatOf(output);
    const minBlockNs = Math.round(parseDuration('--min-block', values['min-block'] as string) * 1e9);
    const { unwind, unwindTableBytes } = parseUnwindFlags(values);
    const includeIdle = values['include-idle'] as boolean;
    const missing = missingPrivileges();
    if (missing) throw new HotpathError(ErrorCodes.PRIVILEGE, missing);

    // wall: the CPU and off-CPU (wall mode) programs, one window of each per drain.
    const opts = { hz, pids, includeIdle, minBlockNs, unwind, unwindTableBytes, windowSeconds: RECORD_WINDOW_S };
    const sources: StackSource[] = [];
    try {
      for (const k of kind === 'wall' ? (['cpu', 'offcpu'] as const) : [kind]) {
        const cpu = sources[0] as CpuSource | undefined;
        sources.push(startStackSource(k, { ...opts, shareTables: cpu?.sharedTables(), wall: kind === 'wall', wallRecords: cpu?.wallRecords() }));
      }
    } catch (err) {
      await Promise.all(sources.map((x) => x.close()));
      throw err;
    }
    const source = sources[0];
    const off = sources[1] as OffcpuSource | undefined;
    if (off && !off.wallRecordsShared) {
      await Promise.all(sources.map((x) => x.close()));
      throw new HotpathError(ErrorCodes.LOAD_OBJECT, `--type wall needs the off-CPU program's tp_btf twins and task storage (kernel 5.11+); it loaded as ${off.variant}`);
    }
    const symbolizer = new Symbolizer();
    const windows: ProfileData[] = [];
    const lost: Record<string, number> = {};
    let drainMs = 0;
    let symbolizeMs = 0;
    const drain = async () => {
      const t0 = performance.now();
      const ws: StackWindow[] = [];
      for (const x of sources) ws.push(await x.drain());
      const t1 = performance.now();
      const w = ws[0];
      windows.push(
        kind === 'wall'
          ? buildWallWindowProfile(ws[0], ws[1], symbolizer, { hz })
          : buildWindowProfile(w.samples, symbolizer, { kind, hz, startNs: w.startNs, endNs: w.endNs }),
      );
      drainMs += t1 - t0;
      symbolizeMs += performance.now() - t1;
      for (const x of ws) for (const [reason, n] of Object.entries(x.lost)) lost[reason] = (lost[reason] ?? 0) + n;
    };

    const started = Date.now();
    let unwindLine = '';
    let stop: () => void = () => {};
    const interrupted = new Promise<void>((resolve) => {
      stop = resolve;
    });
    const onSignal = () => stop();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const tty = process.stderr.isTTY;
    try {
      let nextDrain = started + RECORD_WINDOW_S * 1000;
      for (;;) {
        const elapsed = (Date.now() - started) / 1000;
        if (elapsed >= duration) break;
        if (tty) process.stderr.write(`\rrecording ${kind}: ${elapsed.toFixed(0)}/${duration} s `);
        const wait = Math.min(1000, duration * 1000 - (Date.now() - started), Math.max(0, nextDrain - Date.now()));
        const timedOut = await Promise.race([sleepMs(wait).then(() => true), interrupted.then(() => false)]);
        if (!timedOut) break;
        if (Date.now() >= nextDrain) {
          await drain();
          nextDrain += RECORD_WINDOW_S * 1000;
        }
      }
      for (const x of sources) x.detach();
      await drain();
      unwindLine = describeUnwind(source);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await Promise.all(sources.map((x) => x.close()));
      if (tty) process.stderr.write('\r\x1b[K');
    }

    const t2 = performance.now();
    const data = mergeProfileData(windows);
    const bytes = await writeProfileFile(output, data, `hotpath ${kind} profile`);
    const encodeMs = performance.now() - t2;
    const seconds = Number(data.durationNanos) / 1e9;
    const s = summarizeProfile(data);
    const lostTotal = Object.values(lost).reduce((a, b) => a + b, 0);
    const lostDetail = Object.entries(lost).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${n}`).join(', ');
    const share = s.frames === 0 ? 0 : (100 * s.symbolizedFrames) / s.frames;
    const stats = symbolizer.stats;
    process.stderr.write(
      `hotpath record: wrote ${output} (${bytes} bytes): ` +
        // The wall profile's first value is nanoseconds, not samples.
        (kind === 'wall' ? `${(s.samples / 1e9).toFixed(1)} s of thread time` : `${s.samples} ${kind === 'io' ? 'requests' : 'samples'}`) +
        ` in ${seconds.toFixed(1)} s` +
        (kind === 'cpu' ? ` (${(s.samples / Math.max(seconds, 1e-9)).toFixed(1)}/s at ${hz} Hz per CPU)` : '') +
        `, ${s.processes} processes, ${s.threads} threads\n` +
        `  lost: ${lostTotal}${lostDetail ? ` (${lostDetail})` : ''}\n` +
        `  symbolized: ${share.toFixed(1)}% of frames; unnamed: ${stats.unknownFrames} unknown-region frames, ` +
        `${stats.processesGone} processes gone before symbolization, ${stats.elfErrors} unreadable ELF files, ` +
        `${stats.mapsErrors} unreadable maps\n` +
        `  files of profiled processes opened by ${describeInRootResolver()}\n` +
        unwindLine +
        `  time: drain ${drainMs.toFixed(0)} ms, symbolize ${symbolizeMs.toFixed(0)} ms, encode+write ${encodeMs.toFixed(0)} ms\n`,
    );
    return 0;
  },
};

/** One summary line on the user-stack walker, for sources that have it. */
function describeUnwind(source: StackSource): string {
  const u = (source as StackSource & { unwindStats?: () => UnwindStats }).unwindStats?.();
  if (!u) return '';
  const w = u.walks;
  const frames = w.step_table + w.step_frame_pointer;
  const t = u.tables;
  return (
    `  unwind: ${frames === 0 ? 0 : ((100 * w.step_table) / frames).toFixed(1)}% of user frames by table, ` +
    `${w.sample_without_tables} walks before the process had tables; ` +
    (t ? `tables: ${t.filesReady} files, ${(u.tableBytes / 1048576).toFixed(1)} MiB, ${t.filesFailed} failed, ${t.filesNoRoom} without room\n` : '\n')
  );
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

