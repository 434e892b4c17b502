// The oracle for the unwind table tests: `readelf --debug-dump=frames-interp` parsed into rows, and a check
// that a table built by buildUnwindTable says the same thing at every location readelf lists.
import { execFileSync } from 'node:child_process';
import { CfaRule, RbpRule, findUnwindRow, readUnwindRow, unwindRowPc } from '../rows.js';

export interface ReadelfRow {
  loc: number;
  /** Column name (CFA, rbp, ra, rbx, ...) → readelf's cell ('rsp+8', 'c-16', 'u', 'exp', ...). */
  cells: Map<string, string>;
}

export interface ReadelfEntry {
  section: string;
  offset: number;
  kind: 'CIE' | 'FDE';
  cieOffset: number;
  pcBegin: number;
  pcEnd: number;
  rows: ReadelfRow[];
}

/** Every CIE and FDE readelf interprets, in output order, with the section each is in. */
export function readelfFrames(file: string): ReadelfEntry[] {
  // no-follow-links: readelf would otherwise also dump the detached debug file (libc6-dbg), whose .eh_frame
  // is NOBITS.
  const out = execFileSync('readelf', ['--debug-dump=frames-interp', '--debug-dump=no-follow-links', file], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  const entries: ReadelfEntry[] = [];
  let section = '';
  let current: ReadelfEntry | undefined;
  let columns: string[] = [];
  for (const line of out.split('\n')) {
    const sec = /^Contents of the (\S+) section:/.exec(line);
    if (sec) {
      section = sec[1];
      current = undefined;
      continue;
    }
    const head = /^([0-9a-f]+) [0-9a-f]+ ([0-9a-f]+) (CIE|FDE)(.*)$/.exec(line);
    if (head) {
      const kind = head[3] as 'CIE' | 'FDE';
      const fde = /cie=([0-9a-f]+) pc=([0-9a-f]+)\.\.([0-9a-f]+)/.exec(head[4]);
      current = {
        section,
        offset: parseInt(head[1], 16),
        kind,
        cieOffset: kind === 'CIE' ? parseInt(head[1], 16) : parseInt(fde?.[1] ?? '0', 16),
        pcBegin: fde ? parseInt(fde[2], 16) : 0,
        pcEnd: fde ? parseInt(fde[3], 16) : 0,
        rows: [],
      };
      entries.push(current);
      columns = [];
      continue;
    }
    if (!current) continue;
    if (/^\s+LOC\s+CFA/.test(line)) {
      columns = line.trim().split(/\s+/).slice(1);
      continue;
    }
    const row = /^([0-9a-f]{16}) (.*)$/.exec(line);
    if (row && columns.length > 0) {
      // A register rule prints as 'r11 (r11)': glue the parenthesised name to its cell.
      const cellsList: string[] = [];
      for (const tok of row[2].trim().split(/\s+/)) {
        if (tok.startsWith('(') && cellsList.length > 0) cellsList[cellsList.length - 1] += ` ${tok}`;
        else cellsList.push(tok);
      }
      const cells = new Map<string, string>();
      columns.forEach((c, i) => cells.set(c, cellsList[i] ?? 'u'));
      current.rows.push({ loc: parseInt(row[1], 16), cells });
    }
  }
  return entries;
}

/** A rule as readelf states it, in the table's terms; `expression` when readelf says only 'exp'. */
export interface ExpectedRule {
  cfaRule: number;
  cfaOffset: number;
  rbpRule: number;
  rbpOffset: number;
  expression: boolean;
}

/** The row readelf's cells call for (written from readelf's notation, independently of the builder). */
export function expectedRule(cells: Map<string, string>): ExpectedRule {
  const none: ExpectedRule = { cfaRule: CfaRule.NONE, cfaOffset: 0, rbpRule: RbpRule.UNCHANGED, rbpOffset: 0, expression: false };
  const ra = cells.get('ra');
  if (ra === 'u') return { ...none, cfaRule: CfaRule.END };
  if (ra !== 'c-8') return none;
  const cfa = cells.get('CFA') ?? '';
  const out: ExpectedRule = { ...none };
  if (cfa === 'exp') {
    out.expression = true;
  } else {
    const m = /^(rsp|rbp)([+-]\d+)$/.exec(cfa);
    if (!m) return none;
    const off = parseInt(m[2], 10);
    if (off < -0x8000_0000 || off > 0x7fff_ffff) return none;
    out.cfaRule = m[1] === 'rsp' ? CfaRule.RSP : CfaRule.RBP;
    out.cfaOffset = off;
  }
  const rbp = cells.get('rbp') ?? 'u';
  if (rbp === 'u' || rbp === 's') return out;
  const c = /^c([+-]\d+)$/.exec(rbp);
  if (c && Math.abs(parseInt(c[1], 10)) <= 0x7fff) {
    out.rbpRule = RbpRule.CFA_OFFSET;
    out.rbpOffset = parseInt(c[1], 10);
  } else {
    out.rbpRule = RbpRule.UNSUPPORTED;
  }
  return out;
}

export interface CompareResult {
  fdesChecked: number;
  /** Rule segments (after merging readelf's rows) compared. */
  segmentsChecked: number;
  /** FDEs left out: overlapping one that the table used first. */
  fdesSkipped: number;
  /** Segments where readelf says 'exp', by what the table made of them. */
  expressions: { plt: number; none: number };
  mismatches: string[];
}

/** Equal rules; readelf's 'exp' cells are never merged (they may be different expressions). */
function same(a: ExpectedRule, b: ExpectedRule): boolean {
  if (a.expression || b.expression) return false;
  return (
    a.cfaRule === b.cfaRule && a.cfaOffset === b.cfaOffset && a.rbpRule === b.rbpRule && a.rbpOffset === b.rbpOffset && a.expression === b.expression
  );
}

/**
 * Checks a table against readelf's interpretation: at every location where readelf's rules change, the
 * table's row says the same; no row of the table starts where readelf's rules do not change; where an FDE
 * ends and no other starts, the table says CFA_NONE. `sample` keeps every n-th FDE.
 * FDEs are taken in the table's priority order (.eh_frame first, then by address) and ones overlapping an
 * earlier FDE are skipped, as the builder does.
 */
export function compareWithReadelf(entries: ReadelfEntry[], rows: Buffer, count: number, sample = 1, maxMismatches = 20): CompareResult {
  const result: CompareResult = { fdesChecked: 0, segmentsChecked: 0, fdesSkipped: 0, expressions: { plt: 0, none: 0 }, mismatches: [] };
  const cies = new Map<string, ReadelfEntry>();
  for (const e of entries) if (e.kind === 'CIE') cies.set(`${e.section}:${e.offset}`, e);
  const fdes = entries
    .map((e, i) => ({ e, i, prio: e.section === '.eh_frame' ? 0 : 1 }))
    .filter((x) => x.e.kind === 'FDE' && x.e.pcEnd > x.e.pcBegin)
    .sort((a, b) => a.e.pcBegin - b.e.pcBegin || a.prio - b.prio || a.i - b.i);
  const starts = new Set(fdes.map((x) => x.e.pcBegin));
  let lastEnd = -1;
  let n = 0;
  const fail = (msg: string) => {
    if (result.mismatches.length < maxMismatches) result.mismatches.push(msg);
  };
  for (const { e } of fdes) {
    if (e.pcBegin < lastEnd) {
      result.fdesSkipped++;
      continue;
    }
    lastEnd = e.pcEnd;
    if (n++ % sample !== 0) continue;
    result.fdesChecked++;
    const where = `${e.section} FDE @${e.offset.toString(16)} pc=${e.pcBegin.toString(16)}..${e.pcEnd.toString(16)}`;
    // readelf prints no rows for an FDE whose program is only nops: the CIE's initial rules hold.
    let source = e.rows;
    if (source.length === 0) {
      const cie = cies.get(`${e.section}:${e.cieOffset}`);
      source = (cie?.rows ?? []).slice(-1).map((r) => ({ loc: e.pcBegin, cells: r.cells }));
    }
    const segments: Array<{ loc: number; rule: ExpectedRule }> = [];
    for (const r of source) {
      if (r.loc >= e.pcEnd) continue;
      const rule = expectedRule(r.cells);
      const last = segments[segments.length - 1];
      if (last && last.loc === r.loc) {
        last.rule = rule;
        if (segments.length > 1 && same(segments[segments.length - 2].rule, rule)) segments.pop();
      } else if (!last || !same(last.rule, rule)) {
        segments.push({ loc: r.loc, rule });
      }
    }
    if (segments.length === 0 || segments[0].loc !== e.pcBegin) {
      fail(`${where}: readelf rows do not start at the FDE's start`);
      continue;
    }
    for (let k = 0; k < segments.length; k++) {
      const { loc, rule } = segments[k];
      const next = k + 1 < segments.length ? segments[k + 1].loc : e.pcEnd;
      const idx = findUnwindRow(rows, count, loc);
      if (idx < 0) {
        fail(`${where}: no row at ${loc.toString(16)}`);
        continue;
      }
      const got = readUnwindRow(rows, idx);
      result.segmentsChecked++;
      if (rule.expression) {
        const isPlt = got.cfaRule === CfaRule.PLT1 || got.cfaRule === CfaRule.PLT2;
        if (isPlt) result.expressions.plt++;
        else result.expressions.none++;
        const ok = isPlt
          ? got.rbpRule === rule.rbpRule && got.rbpOffset === rule.rbpOffset
          : got.cfaRule === CfaRule.NONE && got.rbpRule === RbpRule.UNCHANGED && got.cfaOffset === 0;
        if (!ok) fail(`${where} at ${loc.toString(16)}: readelf says exp, table has ${JSON.stringify(got, bigintJson)}`);
      } else if (got.cfaRule !== rule.cfaRule || got.cfaOffset !== rule.cfaOffset || got.rbpRule !== rule.rbpRule || got.rbpOffset !== rule.rbpOffset) {
        fail(`${where} at ${loc.toString(16)}: readelf ${JSON.stringify(rule)}, table ${JSON.stringify(got, bigintJson)}`);
      }
      // No row of the table may start inside the segment.
      if (findUnwindRow(rows, count, next - 1) !== idx) fail(`${where}: a row starts inside [${loc.toString(16)}, ${next.toString(16)})`);
    }
    // Where no other FDE starts, the end is CFA_NONE: a row at the end, or, when the FDE's last rule was
    // already CFA_NONE, that row merged with it.
    const endIdx = findUnwindRow(rows, count, e.pcEnd);
    if (!starts.has(e.pcEnd)) {
      const end = endIdx >= 0 ? readUnwindRow(rows, endIdx) : undefined;
      const lastIdx = findUnwindRow(rows, count, e.pcEnd - 1);
      if (!end || end.cfaRule !== CfaRule.NONE || (unwindRowPc(rows, endIdx) !== e.pcEnd && endIdx !== lastIdx)) {
        fail(`${where}: no CFA_NONE row at the end`);
      }
    }
  }
  return result;
}

function bigintJson(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? `0x${value.toString(16)}` : value;
}
