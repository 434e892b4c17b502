// `hotpath serve`: the agent.
import { missingServeNodeFlags } from '../node-flags.js';
import { hostname, release } from 'node:os';
import { createMetricsExporter } from '../../../exporters/metrics/index.js';
import { PyroscopePusher } from '../../../exporters/push/index.js';
import { Agent, DEFAULT_PROGRAMS, PROGRAM_NAMES, type ProgramName } from '../../agent/agent.js';
import { MIN_MEMORY_LIMIT_BYTES, RUNTIME_RESERVE_BYTES } from '../../agent/memory-budget.js';
import type { Command } from '../command.js';
import { parseUnwindFlags, UNWIND_HELP, UNWIND_OPTIONS } from '../unwind-flags.js';
import { parsePyroscopeFlags, PYROSCOPE_ABOUT, PYROSCOPE_HELP, PYROSCOPE_OPTIONS } from '../pyroscope-flags.js';
import { OTLP_HELP, OTLP_OPTIONS, parseOtlpFlags } from '../otlp-flags.js';
import { KUBERNETES_HELP, KUBERNETES_OPTIONS, kubernetesNodeName, parseKubernetesFlags } from '../kubernetes-flags.js';
import { PodSource } from '../../kubernetes/pod-source.js';
import { nowNs } from '../../sources/index.js';
import { ErrorCodes, HotpathError, usageError } from '../../errors.js';
import { parseBytes, parseChoice, parseDuration, parseInteger, parsePids } from '../flags.js';
import { exposureProblem, HttpServer, isLoopbackAddress, loadWebConfig, MAX_LIVE_SECONDS } from '../../http/index.js';
import { missingPrivileges } from '../../bpf/libbpf.js';
import { dropPrivileges } from '../../bpf/privileges.js';
import { VERSION } from '../../version.js';

const HELP = `Usage: hotpath serve [flags]

Runs the agent: loads and attaches the eBPF programs once, drains them every window, keeps the symbolized
windows of the last --retention in memory and serves them over HTTP.

Flags:
  --host ADDR          address to bind (default 127.0.0.1: loopback only). A non-loopback address (0.0.0.0, a
                       pod IP) needs a --web-config that authenticates clients, or --insecure-expose
  --port N             TCP port (default 9464)
  --web-config FILE    TLS and basic authentication for every route, in the Prometheus exporter-toolkit format
                       node_exporter reads (see Exposure below). A bad file: one line on stderr, exit status 2
  --insecure-expose    bind a non-loopback --host without authentication: anyone who reaches the port reads
                       every process's profile (names, paths, container ids)
  --hz N               CPU samples per second per CPU (default 99)
  --programs LIST      comma-separated: cpu,offcpu,wall,runqlat,biolatency,io (default: cpu,offcpu,runqlat,
                       biolatency). wall and io are asked for by name, as they cost kernel time on hot paths:
                       io (I/O time by issuing stack) walks the submitting task's stacks for every block
                       request, ~5.6 us of kernel time each (7x biolatency's); wall is built from cpu and offcpu
                       (both needed; /debug/pprof/wall answers 404 saying which is missing) and makes the off-CPU
                       program classify every block and count the short ones too (sched_switch 3.2 -> 3.9 us).
                       A program that fails to attach is logged, reported on / and in
                       hotpath_samples_lost_total, and the others run.
  --window DURATION    how often the kernel maps are drained (default 10s). The CPU program's maps hold one
                       window: sized for online CPUs x --hz x --window samples (a power of two, at least 4096, at
                       most 262144 entries, two buffers of about 2.2 KiB of kernel memory per entry at their
                       fullest; logged at start: 18 MiB for 2 CPUs at 99 Hz, 280 MiB for 64). Past the bound,
                       samples are counted in hotpath_samples_lost_total
  --retention DURATION how much history is kept for from/to queries (default 1h)
  --memory-limit SIZE  the agent's memory budget (default 192M: fits a 256 MiB container with headroom; at
                       least ${MIN_MEMORY_LIMIT_BYTES >> 20}M). ${RUNTIME_RESERVE_BYTES >> 20}M of it is left to Node.js and the requests in flight; of the rest, half
                       bounds the retained history (shared by the profile types that run) and half the symbol
                       caches. Each part is enforced by bytes; the oldest windows, least recently used files
                       go first, counted in hotpath_memory_evictions_total and hotpath_windows_dropped_total
  --retention-memory SIZE
                       override: bound the retained history of each profile type by SIZE instead of its share
                       of --memory-limit (the total may then pass the limit); the oldest windows are dropped
                       first when it is reached, even inside --retention
  --pid N              profile only this process; repeat for more (default: the whole system)
  --min-block DURATION off-CPU: ignore blocks shorter than this (default 1us; e.g. 500us, 1ms). The wall
                       profile counts them still (kernel stack only, no user stack), so its time adds up
  --runqlat-per-container N
                       hotpath_runqueue_latency_seconds per cgroup v2, with a \`container\` label: the
                       container id (namespace/pod/container with --kubernetes), else the cgroup path
                       (e.g. /system.slice/cron.service). The N busiest get series of their own, the rest
                       share container="other" (series never decrease: a cgroup moving out of "other" keeps
                       its earlier waits there). Default 0: one histogram for the machine. Reads the cgroup2
                       tree of this mount namespace (a container needs the host's /sys/fs/cgroup).
${UNWIND_HELP}${PYROSCOPE_HELP}${OTLP_HELP}${KUBERNETES_HELP}  -h, --help           this help

Routes:
  /                              index
  /metrics                       Prometheus metrics
  /debug/pprof/profile?seconds=N CPU profile of the next N s (default 30, at most ${MAX_LIVE_SECONDS});
                                 from=&to= (unix seconds or RFC 3339) read retained history; pid= filters
  /debug/pprof/offcpu?...        the same for off-CPU time
  /debug/pprof/wall?...          the same for wall-clock time per thread: values wall, cpu, offcpu (ns), label
                                 state=running|runnable|io|lock|sleeping (go tool pprof -tagfocus=state=io)
  /debug/pprof/io?...            the same for block I/O time (issue to completion) by the submitting stack,
                                 labels device and operation
  /debug/pprof/symbol            names of addresses in served profiles (pprof posts unnamed ones here)
  /debug/pprof/cmdline           the agent's command line
  /flamegraph?type=cpu|offcpu|wall|io&seconds=N (or from&to, pid)   interactive flamegraph
  /healthz                       200 while programs are attached and draining

Exposure:
  On loopback (the default) the agent answers only requests whose Host header is localhost, 127.0.0.1 or
  [::1] with its port, others get 421: a web page cannot read it by rebinding its own name to 127.0.0.1.
  --web-config FILE is YAML, relative file names from the file's directory; unknown keys are errors:
    tls_server_config:
      cert_file: server.crt          # or cert: <PEM>; key_file: server.key or key: <PEM>
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert   # default NoClientCert; also RequestClientCert,
      client_ca_file: ca.crt         #   RequireAnyClientCert, VerifyClientCertIfGiven
      # min_version/max_version (TLS12, TLS13), cipher_suites, curve_preferences, client_allowed_sans
    basic_auth_users:                # user: bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\\n')
      prometheus: $2y$10$...
    http_server_config:
      headers: { X-Frame-Options: deny }
    rate_limit: { interval: 100ms, burst: 20 }
  With basic_auth_users every route answers 401 (WWW-Authenticate: Basic) without valid credentials;
  passwords are checked in a worker thread and the result is cached, as the exporter toolkit does.

${PYROSCOPE_ABOUT}
Limits: at most 8 live profiles (seconds=N) at once and 2 profiles built at once with 32 waiting; past them
429 with a message (counted in hotpath_http_requests_rejected_total with every 4xx). Requests that read the
same retained windows share one build. Building runs in slices between other requests; flamegraph pages are
laid out in a worker thread. Scrapes of /metrics within 250 ms share one collect. A client that disconnects
stops its request's work; SIGTERM answers pending requests (503) and exits.

Needs root, or CAP_BPF + CAP_PERFMON (+ CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_CHECKPOINT_RESTORE, CAP_SYSLOG to
read other processes' files and kernel symbols). Once attached it keeps only CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH,
CAP_CHECKPOINT_RESTORE, and CAP_SYSLOG or CAP_BPF where this kernel needs them (README: Privileges), trims the
bounding set and sets no_new_privs.
`;

/** The pusher's counters as the metrics producer shows them (windows it never encoded count as dropped). */
function pushStats(p: PyroscopePusher) {
  const st = p.stats();
  return { target: st.target, requests: st.requests, dropped: { ...st.dropped, ...st.windowsDropped }, queueBytes: st.queueBytes, sentBytes: st.sentBytes };
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the agent',
  help: HELP,
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '9464' },
    hz: { type: 'string', default: '99' },
    programs: { type: 'string', default: DEFAULT_PROGRAMS.join(',') },
    window: { type: 'string', default: '10s' },
    retention: { type: 'string', default: '1h' },
    'memory-limit': { type: 'string', default: '192M' },
    'retention-memory': { type: 'string' },
    pid: { type: 'string', multiple: true },
    'min-block': { type: 'string', default: '1us' },
    'runqlat-per-container': { type: 'string', default: '0' },
    'web-config': { type: 'string' },
    'insecure-expose': { type: 'boolean', default: false },
    ...UNWIND_OPTIONS,
    ...PYROSCOPE_OPTIONS,
    ...OTLP_OPTIONS,
    ...KUBERNETES_OPTIONS,
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
    const memoryLimitBytes = parseBytes('--memory-limit', values['memory-limit'] as string);
    if (memoryLimitBytes < MIN_MEMORY_LIMIT_BYTES) {
      throw usageError(`invalid value for --memory-limit: ${values['memory-limit']} (at least ${MIN_MEMORY_LIMIT_BYTES >> 20}M)`);
    }
    const retentionMemory = values['retention-memory'] as string | undefined;
    const maxStoreBytes = retentionMemory === undefined ? undefined : parseBytes('--retention-memory', retentionMemory);
    const pids = parsePids('--pid', values.pid as string[] | undefined);
    const minBlockNs = Math.round(parseDuration('--min-block', values['min-block'] as string) * 1e9);
    const runqlatPerContainer = parseInteger('--runqlat-per-container', values['runqlat-per-container'] as string, 0, 500);
    const { unwind, unwindTableBytes } = parseUnwindFlags(values);
    const pyroscope = parsePyroscopeFlags(values);
    // Before anything is loaded: a bad file or an unguarded exposure is a usage error (exit 2).
    const webConfigPath = values['web-config'] as string | undefined;
    const webConfig = webConfigPath === undefined ? undefined : loadWebConfig(webConfigPath);
    const insecureExpose = values['insecure-expose'] as boolean;
    const exposure = exposureProblem(host, webConfig, insecureExpose);
    if (exposure) throw usageError(exposure);
    const otlp = parseOtlpFlags(values);
    const nodeName = kubernetesNodeName(values);
    const kubernetes = parseKubernetesFlags(values);
    const missing = missingPrivileges();
    if (missing) throw new HotpathError(ErrorCodes.PRIVILEGE, missing);

    const log = (line: string) => process.stderr.write(`${line}\n`);
    let pods: PodSource | undefined;
    try {
      pods = kubernetes ? new PodSource({ ...kubernetes, log }) : undefined;
    } catch (err) {
      throw usageError(`--kubernetes-ca-file: ${(err as Error).message}`);
    }
    // Started before the programs: by the first window the node's pods are usually known.
    pods?.start();
    const agent = await Agent.start({
      hz, programs, windowSeconds, retentionSeconds, memoryLimitBytes, maxStoreBytes, pids, minBlockNs, runqlatPerContainer, unwind, unwindTableBytes, version: VERSION, kernel: release(),
      podLabels: pods ? (id) => pods.lookup(id.podUid, id.containerId) as Readonly<Record<string, string>> | undefined : undefined,
    }).catch(async (err: unknown) => {
      await pods?.close();
      throw err;
    });
    const closeAll = async () => {
      await agent.close();
      await pods?.close();
    };
    if (agent.attachedPrograms.length === 0) {
      await closeAll();
      throw new HotpathError(ErrorCodes.ATTACH, 'no program could be attached (see the messages above)');
    }
    // Attached: from here on keep only the capabilities draining and symbolizing need (bpf/privileges.ts).
    const privileges = await dropPrivileges({ listenPort: port }).catch(async (err: unknown) => {
      await closeAll();
      throw err;
    });
    process.stderr.write(`hotpath serve: ${privileges.summary}\n`);
    const missingFlags = missingServeNodeFlags();
    if (missingFlags.length > 0) {
      process.stderr.write(
        `hotpath serve: Node.js was started without ${missingFlags.join(' ')} (the hotpath executable, npm start and deploy/ pass it): ` +
          "V8's young generation may then hold up to 40 MiB more of --memory-limit\n",
      );
    }
    const pusher = pyroscope
      ? new PyroscopePusher({ ...pyroscope, headers: { 'user-agent': `hotpath/${VERSION}`, ...pyroscope.headers } })
      : undefined;
    if (pusher) {
      agent.onWindow((kind, data) => pusher.offerWindow(kind, data));
      process.stderr.write(`hotpath serve: pushing cpu and offcpu profiles to ${pusher.endpoint.href}\n`);
    }
    let rejectedRequests: () => { route: string; code: string; requests: number }[] = () => [];
    const resource: Record<string, string> = { 'host.name': hostname(), 'service.name': 'hotpath', 'service.version': VERSION };
    if (nodeName) resource['k8s.node.name'] = nodeName;
    const metrics = createMetricsExporter(
      {
        ...agent.metricsSource(),
        httpRequestsRejected: () => rejectedRequests(),
        ...(pusher ? { push: () => [pushStats(pusher)] } : {}),
        ...(pods ? { kubernetes: () => pods.stats() } : {}),
      },
      { otlp: otlp && { ...otlp, log }, resource: otlp ? resource : undefined },
    );
    const server = new HttpServer({
      host, port, agent, metrics, retentionNs: BigInt(Math.round(retentionSeconds * 1e9)), nowNs, webConfig, insecureExpose,
    });
    rejectedRequests = () => server.rejectedRequests();
    let address;
    try {
      address = await server.listen();
    } catch (err) {
      await pusher?.close();
      await closeAll();
      await metrics.shutdown();
      throw new HotpathError(ErrorCodes.USAGE, `listen on ${host}:${port}: ${(err as Error).message}`);
    }
    const shown = `${server.isTls ? 'https' : 'http'}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    process.stderr.write(
      `hotpath serve: listening on ${shown}/ (programs: ${agent.attachedPrograms.join(', ')})\n` +
        `  flamegraph: ${shown}/flamegraph?type=cpu&seconds=10\n` +
        `  pprof:      go tool pprof ${shown}/debug/pprof/profile?seconds=30\n` +
        `  metrics:    ${shown}/metrics\n` +
        (otlp ? `  otlp:       ${otlp.url} every ${otlp.intervalMs / 1000} s\n` : '') +
        (kubernetes ? `  kubernetes: pods of ${kubernetes.nodeName} from ${kubernetes.baseUrl} (${kubernetes.kind})\n` : ''),
    );
    if (insecureExpose && exposureProblem(host, webConfig, false)) {
      process.stderr.write(`hotpath serve: --insecure-expose: ${host} is reachable without authentication\n`);
    } else if (webConfig && webConfig.users.size > 0 && !server.isTls && !isLoopbackAddress(host)) {
      process.stderr.write('hotpath serve: basic authentication without tls_server_config sends passwords in clear text\n');
    }
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    process.stderr.write('hotpath serve: shutting down\n');
    // First: the request in flight is aborted, so nothing waits on the network.
    await pusher?.close();
    await server.close();
    // Pushes the last values while the programs still hold them; bounded (2 s) when the receiver does not answer.
    await metrics.shutdown();
    await closeAll();
    // Everything is closed and detached; should a handle still hold the event loop, do not wait for it.
    setTimeout(() => {
      process.stderr.write('hotpath serve: exiting with handles still open\n');
      process.exit(0);
    }, 2000).unref();
    return 0;
  },
};
