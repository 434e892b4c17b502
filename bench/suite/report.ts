// Renders the suite's rows: one plain-text summary table (stdout) and bench/RESULTS.md. Pure: the machine
// description is read by `readMachine` and passed in.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { formatMedian, formatSpread, summarize, type Row } from './stats.js';

export interface Machine {
  cpu: string;
  cores: number;
  memoryBytes: number;
  kernel: string;
  node: string;
  date: string;
  /** The commit measured, with "+ uncommitted changes" when the work tree differs. */
  revision: string;
}

/** What the section was and how it measured, for RESULTS.md. */
export interface SectionInfo {
  name: string;
  title: string;
  about: string;
}

export function readMachine(root: string): Machine {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // keep os.cpus()'s name
  }
  let revision = 'unknown';
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    // The bench's own outputs (written while it runs) do not make the measured code differ from HEAD.
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench/RESULTS.md', ':!bench/scaling.svg'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    revision = dirty ? `${head} + uncommitted changes` : head;
  } catch {
    // not a git checkout
  }
  return {
    cpu,
    cores: cpus().length,
    memoryBytes: totalmem(),
    kernel: release(),
    node: process.version,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    revision,
  };
}

function pad(cells: string[][]): string[] {
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd());
}

function figureCells(row: Row): [string, string, string, string] {
  const s = summarize(row.runs);
  if (!s) return ['n/a', '', row.unit, '0'];
  return [formatMedian(row), formatSpread(row), row.unit, String(s.n)];
}

/** The one table printed on stdout at the end: every row, median and spread, a note where there is one. */
export function renderSummaryTable(rows: readonly Row[]): string {
  const cells = [['section', 'metric', 'median', 'min–max', 'unit', 'n', 'note']];
  for (const r of rows) cells.push([r.section, r.metric, ...figureCells(r), r.note ?? '']);
  return `${pad(cells).join('\n')}\n`;
}

function escapeCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function formatBytes(n: number): string {
  return `${(n / 1024 ** 3).toFixed(1)} GiB`;
}

export interface ResultsOptions {
  machine: Machine;
  sections: readonly SectionInfo[];
  rows: readonly Row[];
  /** The command line that produced the figures. */
  command: string;
  /** Wall time of the whole run, seconds. */
  elapsedS: number;
  /** Lines said once under the machine table (sections skipped, a chart written). */
  notes?: readonly string[];
}

/** bench/RESULTS.md: the machine, then one table per section (median, min–max, runs), each with how it was measured. */
export function renderResultsMarkdown(opts: ResultsOptions): string {
  const m = opts.machine;
  const out: string[] = [
    '# hotpath benchmark results',
    '',
    `Produced by \`${opts.command}\` in ${Math.round(opts.elapsedS)} s. Every figure is the median of its runs, with the`,
    'spread (min–max) and the number of runs beside it. Regenerate with `flock /tmp/hotpath-kernel.lock npm run bench`.',
    '',
    '| machine | |',
    '| --- | --- |',
    `| CPU | ${escapeCell(m.cpu)} |`,
    `| cores | ${m.cores} |`,
    `| memory | ${formatBytes(m.memoryBytes)} |`,
    `| kernel | ${escapeCell(m.kernel)} |`,
    `| Node.js | ${m.node} |`,
    `| date | ${m.date} |`,
    `| hotpath | ${escapeCell(m.revision)} |`,
    '',
  ];
  for (const n of opts.notes ?? []) out.push(`- ${n}`);
  if ((opts.notes ?? []).length > 0) out.push('');
  for (const section of opts.sections) {
    const rows = opts.rows.filter((r) => r.section === section.name);
    out.push(`## ${section.title}`, '', section.about, '');
    if (rows.length === 0) {
      out.push('No figures (the section did not run).', '');
      continue;
    }
    out.push('| metric | median | min–max | unit | runs | note |', '| --- | ---: | ---: | --- | ---: | --- |');
    for (const r of rows) {
      const [median, spread, unit, n] = figureCells(r);
      out.push(`| ${escapeCell(r.metric)} | ${median} | ${spread} | ${escapeCell(unit)} | ${n} | ${escapeCell(r.note ?? '')} |`);
    }
    out.push('');
  }
  return out.join('\n');
}
