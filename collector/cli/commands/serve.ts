// `hotpath serve`: the agent.
import { release } from 'node:os';
import { createMetricsExporter } from '../../../exporters/metrics/index.js';
import { Agent, PROGRAM_NAMES, type ProgramName } from '../../agent/agent.js';
import type { Command } from '../command.js';
import { parseUnwindFlags, UNWIND_HELP, UNWIND_OPTIONS } from '../unwind-flags.js';
import { nowNs } from '../../sources/index.js';
import { ErrorCodes, HotpathError, usageError } from '../../errors.js';
import { parseBytes, parseChoice, parseDuration, parseInteger, parsePids } from '../flags.js';
import { HttpServer, MAX_LIVE_SECONDS } from '../../http/index.js';
import { missingPrivileges } from '../../bpf/libbpf.js';
import { VERSION } from '../../version.js';

const HELP = `Usage: hotpath serve [flags]

Runs the agent: loads and attaches the eBPF programs once, drains them every window, keeps the symbolized
windows of the last --retention in memory and serves them over HTTP.

Flags:
  --host ADDR          address to bind (default 127.0.0.1: loopback only; use 0.0.0.0 to expose it)
  --port N             TCP port (default 9464)
  --hz N               CPU samples per second per CPU (default 99)
  --programs LIST      comma-separated: cpu,offcpu,runqlat,biolatency (default: all). A program that fails
                       to attach is logged, reported on / and in hotpath_samples_lost_total, and the others run.
  --window DURATION    how often the kernel maps are drained (default 10s)
  --retention DURATION how much history is kept for from/to queries (default 1h)
  --retention-memory SIZE
                       memory bound of the retained history per profile type (default 256M); the oldest
                       windows are dropped first when it is reached, even inside --retention
  --pid N              profile only this process; repeat for more (default: the whole system)
  --min-block DURATION off-CPU: ignore blocks shorter than this (default 1us; e.g. 500us, 1ms)
${UNWIND_HELP}  -h, --help           this help

Routes:
  /                              index
  /metrics                       Prometheus metrics
  /debug/pprof/profile?seconds=N CPU profile of the next N s (default 30, at most ${MAX_LIVE_SECONDS});
                                 from=&to= (unix seconds or RFC 3339) read retained history; pid= filters
  /debug/pprof/offcpu?...        the same for off-CPU time
  /debug/pprof/symbol            names of addresses in served profiles (pprof posts unnamed ones here)
  /debug/pprof/cmdline           the agent's command line
  /flamegraph?type=cpu|offcpu&seconds=N (or from&to, pid)   interactive flamegraph
  /healthz                       200 while programs are attached and draining

Needs root, or CAP_BPF + CAP_PERFMON.
`;

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the agent',
  help: HELP,
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '9464' },
    hz: { type: 'string', default: '99' },
    programs: { type: 'string', default: PROGRAM_NAMES.join(',') },
    window: { type: 'string', default: '10s' },
    retention: { type: 'string', default: '1h' },
    'retention-memory': { type: 'string', default: '256M' },
    pid: { type: 'string', multiple: true },
    'min-block': { type: 'string', default: '1us' },
    ...UNWIND_OPTIONS,
  },
  async run(values) {
    const host = values.host as string;
    if (host.length === 0) throw usageError('invalid value for --host: empty');
    const port = parseInteger('--port', values.port as string, 0, 65535);
    const hz = parseInteger('--hz', values.hz as string, 1, 10_000);
    const programs = [...new Set((values.programs as string).split(',').filter(Boolean))].map((p) =>
      parseChoice<ProgramName>('--programs', p, PROGRAM_NAMES),
    );
    if (programs.length === 0) throw usageError('invalid value for --programs: empty');
    const windowSeconds = parseDuration('--window', values.window as string);
    if (windowSeconds < 1) throw usageError(`invalid value for --window: ${values.window} (at least 1s)`);
    const retentionSeconds = parseDuration('--retention', values.retention as string);
    if (retentionSeconds < windowSeconds) throw usageError('invalid value for --retention: shorter than --window');
    const maxStoreBytes = parseBytes('--retention-memory', values['retention-memory'] as string);
    const pids = parsePids('--pid', values.pid as string[] | undefined);
    const minBlockNs = Math.round(parseDuration('--min-block', values['min-block'] as string) * 1e9);
    const { unwind, unwindTableBytes } = parseUnwindFlags(values);
    const missing = missingPrivileges();
    if (missing) throw new HotpathError(ErrorCodes.PRIVILEGE, missing);

    const agent = await Agent.start({
      hz, programs, windowSeconds, retentionSeconds, maxStoreBytes, pids, minBlockNs, unwind, unwindTableBytes, version: VERSION, kernel: release(),
    });
    if (agent.attachedPrograms.length === 0) {
      await agent.close();
      throw new HotpathError(ErrorCodes.ATTACH, 'no program could be attached (see the messages above)');
    }
    const metrics = createMetricsExporter(agent.metricsSource());
    const server = new HttpServer({
      host, port, agent, metrics, retentionNs: BigInt(Math.round(retentionSeconds * 1e9)), nowNs,
    });
    let address;
    try {
      address = await server.listen();
    } catch (err) {
      await agent.close();
      throw new HotpathError(ErrorCodes.USAGE, `listen on ${host}:${port}: ${(err as Error).message}`);
    }
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    process.stderr.write(
      `hotpath serve: listening on http://${shown}:${address.port}/ (programs: ${agent.attachedPrograms.join(', ')})\n` +
        `  flamegraph: http://${shown}:${address.port}/flamegraph?type=cpu&seconds=10\n` +
        `  pprof:      go tool pprof http://${shown}:${address.port}/debug/pprof/profile?seconds=30\n` +
        `  metrics:    http://${shown}:${address.port}/metrics\n`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    process.stderr.write('hotpath serve: shutting down\n');
    await server.close();
    await agent.close();
    await metrics.shutdown();
    return 0;
  },
};
