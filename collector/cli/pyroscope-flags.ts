// --pyroscope-* flags of `hotpath serve`: help lines, option declarations, and a parser that checks every
// value and reads the secret files once, at start (a bad value or an unreadable file: usage error, exit 2).
import { readFileSync } from 'node:fs';
import type { PyroscopeOptions } from '../../exporters/push/index.js';
import { DEFAULT_MAX_SERIES, DEFAULT_PUSH_QUEUE_BYTES } from '../../exporters/push/index.js';
import { usageError } from '../errors.js';
import { parseBytes } from './flags.js';

export const PYROSCOPE_HELP = `  --pyroscope-url URL  push every window's cpu and offcpu profiles to Grafana Pyroscope (http or https base URL,
                       e.g. http://pyroscope:4040) through its push API, as Alloy's pyroscope.write does:
                       one request per window and profile type, one series per service (see Pyroscope below)
  --pyroscope-label K=V
                       a label added to every series; repeat for more
  --pyroscope-basic-auth-file FILE
                       "user:password" on one line, sent as HTTP basic authentication
  --pyroscope-bearer-token-file FILE
                       a token sent as "Authorization: Bearer"; not with --pyroscope-basic-auth-file
  --pyroscope-tenant ID
                       the X-Scope-OrgID header (multi-tenant Pyroscope)
  --pyroscope-queue-memory SIZE
                       requests waiting to be sent, at most (default ${DEFAULT_PUSH_QUEUE_BYTES >> 20}M, and 256 requests)
`;

export const PYROSCOPE_ABOUT = `Pyroscope:
  Each window's profile is split by service: service_name is namespace/workload when Kubernetes labels are
  known, else the process name; series labels are __name__ (process_cpu, off_cpu), service_name, process,
  container (id or name), pod, and the --pyroscope-label ones. At most ${DEFAULT_MAX_SERIES} series per window and profile type:
  the busiest services, the rest merged under service_name="other". Profiles are gzipped pprof, as served on
  /debug/pprof. Sending never holds up a drain: requests wait in a bounded queue, sent one at a time with a
  10 s timeout; network errors, timeouts, 429 and 5xx are retried with capped exponential backoff (0.5 s to
  30 s, jittered); other 4xx are dropped and logged. When the queue is full the OLDEST requests are dropped
  so the newest windows get through. Counted in hotpath_push_requests_total{target,outcome},
  hotpath_push_dropped_total{target,reason}, hotpath_push_queue_bytes and hotpath_push_sent_bytes_total.
  On SIGTERM the request in flight is aborted and what is queued is dropped (reason shutdown).
`;

export const PYROSCOPE_OPTIONS = {
  'pyroscope-url': { type: 'string' },
  'pyroscope-label': { type: 'string', multiple: true },
  'pyroscope-basic-auth-file': { type: 'string' },
  'pyroscope-bearer-token-file': { type: 'string' },
  'pyroscope-tenant': { type: 'string' },
  'pyroscope-queue-memory': { type: 'string', default: `${DEFAULT_PUSH_QUEUE_BYTES >> 20}M` },
} as const;

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Reads a secret file's first line; a usage error naming the flag when it cannot. */
function readSecret(flag: string, file: string, readFile: (path: string) => string): string {
  let text: string;
  try {
    text = readFile(file);
  } catch (err) {
    throw usageError(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const line = text.replace(/\r?\n$/, '');
  if (line.length === 0) throw usageError(`${flag}: ${file} is empty`);
  if (/[\r\n]/.test(line)) throw usageError(`${flag}: ${file} must hold one line`);
  return line;
}

/** The pusher's options from the flags, or undefined without --pyroscope-url. */
export function parsePyroscopeFlags(
  values: Record<string, unknown>,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): PyroscopeOptions | undefined {
  const url = values['pyroscope-url'] as string | undefined;
  const others = Object.keys(PYROSCOPE_OPTIONS).filter((k) => k !== 'pyroscope-url' && k !== 'pyroscope-queue-memory' && values[k] !== undefined);
  if (url === undefined) {
    if (others.length > 0) throw usageError(`--${others[0]} needs --pyroscope-url`);
    return undefined;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw usageError(`invalid value for --pyroscope-url: "${url}" (expected an http or https URL)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw usageError(`invalid value for --pyroscope-url: "${url}" (expected an http or https URL)`);
  }
  if (parsed.username || parsed.password) {
    throw usageError('invalid value for --pyroscope-url: credentials in the URL (use --pyroscope-basic-auth-file)');
  }
  const extraLabels: Record<string, string> = {};
  for (const kv of (values['pyroscope-label'] as string[] | undefined) ?? []) {
    const eq = kv.indexOf('=');
    const name = eq < 0 ? kv : kv.slice(0, eq);
    if (eq < 0 || !LABEL_NAME.test(name) || name.startsWith('__')) {
      throw usageError(`invalid value for --pyroscope-label: "${kv}" (expected NAME=VALUE, NAME a label name not starting with __)`);
    }
    if (kv.length === eq + 1) throw usageError(`invalid value for --pyroscope-label: "${kv}" (empty value)`);
    extraLabels[name] = kv.slice(eq + 1);
  }
  const headers: Record<string, string> = {};
  const basicFile = values['pyroscope-basic-auth-file'] as string | undefined;
  const bearerFile = values['pyroscope-bearer-token-file'] as string | undefined;
  if (basicFile !== undefined && bearerFile !== undefined) {
    throw usageError('--pyroscope-basic-auth-file and --pyroscope-bearer-token-file exclude each other');
  }
  if (basicFile !== undefined) {
    const creds = readSecret('--pyroscope-basic-auth-file', basicFile, readFile);
    if (!creds.includes(':')) throw usageError(`--pyroscope-basic-auth-file: ${basicFile} must hold "user:password"`);
    headers.authorization = `Basic ${Buffer.from(creds, 'utf8').toString('base64')}`;
  }
  if (bearerFile !== undefined) headers.authorization = `Bearer ${readSecret('--pyroscope-bearer-token-file', bearerFile, readFile)}`;
  const tenant = values['pyroscope-tenant'] as string | undefined;
  if (tenant !== undefined) {
    if (!/^[\x21-\x7e]+$/.test(tenant)) throw usageError(`invalid value for --pyroscope-tenant: "${tenant}" (printable ASCII without spaces)`);
    headers['x-scope-orgid'] = tenant;
  }
  const maxQueueBytes = parseBytes('--pyroscope-queue-memory', values['pyroscope-queue-memory'] as string);
  if (maxQueueBytes < 64 * 1024) throw usageError(`invalid value for --pyroscope-queue-memory: ${values['pyroscope-queue-memory']} (at least 64K)`);
  return { url: parsed.href, headers, extraLabels, maxQueueBytes };
}
