import * as fs from 'node:fs';
import { it } from 'vitest';
import { buildUnwindTable, readUnwindRow } from './index.js';
it('smoke', () => {
  for (const f of ['/tmp/uwx/a', '/lib/x86_64-linux-gnu/libc.so.6', '/usr/bin/node', '/tmp/uwx/gop/gobin', '/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0']) {
    const t = buildUnwindTable(fs.readFileSync(f));
    console.log(f, t.error, JSON.stringify(t.stats));
    if (f.endsWith('/a')) for (let i = 0; i < t.count; i++) { const r = readUnwindRow(t.rows, i); console.log(r.pc.toString(16), r.cfaRule, r.cfaOffset, r.rbpRule, r.rbpOffset); }
  }
});
