// The agent's own cost as every Prometheus client library reports it (process_cpu_seconds_total,
// process_open_fds, ...), read from the kernel at each scrape. Never throws: what cannot be read is left out.
import { readdirSync, readFileSync } from 'node:fs';
import type { ProcessStats } from '../../exporters/metrics/index.js';

const START_TIME_SECONDS = (performance.timeOrigin - 0) / 1000;

export function readProcessStats(procSelf = '/proc/self'): ProcessStats {
  const cpu = process.cpuUsage(); // every thread's, microseconds
  const out: ProcessStats = { cpuSeconds: (cpu.user + cpu.system) / 1e6, startTimeSeconds: START_TIME_SECONDS };
  try {
    out.openFds = readdirSync(`${procSelf}/fd`).length;
  } catch {
    /* left out */
  }
  try {
    const limits = readFileSync(`${procSelf}/limits`, 'latin1');
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
    if (m && m[1] !== 'unlimited') out.maxFds = Number(m[1]);
  } catch {
    /* left out */
  }
  try {
    const status = readFileSync(`${procSelf}/status`, 'latin1');
    const m = /^VmSize:\s+(\d+) kB/m.exec(status);
    if (m) out.virtualBytes = Number(m[1]) * 1024;
  } catch {
    /* left out */
  }
  return out;
}
