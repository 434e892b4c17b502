// Rust symbol demangling for display: legacy (`_ZN...17h<hash>E`, the hash dropped) and v0 (`_R...`, crate
// disambiguators dropped), printed like rustc-demangle's alternate form. Anything malformed gives undefined.
// Bounds: v0 backrefs re-parse earlier parts, so output can grow geometrically; characters printed in all
// (MAX_WORK) and parse steps (MAX_STEPS) are capped, and a name over them is given up (DemangleBudget).

import type { DemangleBudget } from './itanium.js';

const MAX_INPUT = 4096;
const MAX_OUTPUT = 16384;
const MAX_DEPTH = 96;
const MAX_WORK = 1 << 18;
const MAX_STEPS = 1 << 16;

const LEGACY_ESCAPES: Record<string, string> = {
  SP: '@', BP: '*', RF: '&', LT: '<', GT: '>', LP: '(', RP: ')', C: ',',
};

/** Legacy mangling: Itanium-style path of length-prefixed parts whose last part is `h` + 16 hex digits. */
export function demangleRustLegacy(mangled: string): string | undefined {
  if (!mangled.startsWith('_ZN') || mangled.length > MAX_INPUT) return undefined;
  const sym = mangled.replace(/\.llvm\.[0-9A-Za-z.@]+$/, '');
  const parts: string[] = [];
  let pos = 3;
  while (pos < sym.length && sym[pos] !== 'E') {
    const m = /^\d+/.exec(sym.slice(pos, pos + 6));
    if (!m) return undefined;
    pos += m[0].length;
    const n = Number(m[0]);
    if (n === 0 || pos + n > sym.length) return undefined;
    parts.push(sym.slice(pos, pos + n));
    pos += n;
  }
  if (pos !== sym.length - 1 || parts.length < 2) return undefined;
  if (!/^h[0-9a-f]{16}$/.test(parts[parts.length - 1])) return undefined;
  const out: string[] = [];
  for (const part of parts.slice(0, -1)) {
    const d = unescapeLegacy(part);
    if (d === undefined) return undefined;
    out.push(d);
  }
  return out.join('::');
}

function unescapeLegacy(part: string): string | undefined {
  let s = part.startsWith('_$') ? part.slice(1) : part;
  let out = '';
  while (s) {
    if (s.startsWith('..')) {
      out += '::';
      s = s.slice(2);
    } else if (s[0] === '$') {
      const end = s.indexOf('$', 1);
      if (end < 0) return undefined;
      const code = s.slice(1, end);
      if (LEGACY_ESCAPES[code]) out += LEGACY_ESCAPES[code];
      else if (/^u[0-9a-f]{1,6}$/.test(code)) out += String.fromCodePoint(parseInt(code.slice(1), 16));
      else return undefined;
      s = s.slice(end + 1);
    } else {
      out += s[0];
      s = s.slice(1);
    }
  }
  return out;
}

const BASIC: Record<string, string> = {
  a: 'i8', b: 'bool', c: 'char', d: 'f64', e: 'str', f: 'f32', h: 'u8', i: 'isize', j: 'usize', l: 'i32',
  m: 'u32', n: 'i128', o: 'u128', s: 'i16', t: 'u16', u: '()', v: '...', x: 'i64', y: 'u64', z: '!', p: '_',
};
const SIGNED = new Set(['a', 'i', 'l', 'n', 's', 'x']);

class Fail extends Error {}
class OverBudget extends Fail {}

/** v0 parser that prints as it parses; backrefs re-parse from the referenced position. */
class V0 {
  private depth = 0;
  private out = 0;
  private steps = 0;

  constructor(private readonly s: string, public pos: number) {}

  private eat(c: string): boolean {
    if (this.s[this.pos] === c) {
      this.pos++;
      return true;
    }
    return false;
  }

  private next(): string {
    if (this.pos >= this.s.length) throw new Fail();
    return this.s[this.pos++];
  }

  private guard<T>(f: () => T): T {
    if (++this.depth > MAX_DEPTH) throw new Fail();
    if (++this.steps > MAX_STEPS) throw new OverBudget();
    try {
      const r = f();
      if (typeof r === 'string' && ((this.out += r.length) > MAX_WORK || r.length > MAX_OUTPUT)) throw new OverBudget();
      return r;
    } finally {
      this.depth--;
    }
  }

  /** base-62-number: `_` is 0, otherwise digits then `_`, value + 1. */
  private base62(): number {
    if (this.eat('_')) return 0;
    let v = 0;
    // Crate disambiguators are 64-bit hashes (11 digits); precision does not matter for them.
    for (let digits = 0; digits <= 12; digits++) {
      const c = this.next();
      if (c === '_') return v + 1;
      const d = c >= '0' && c <= '9' ? c.charCodeAt(0) - 48 : c >= 'a' && c <= 'z' ? c.charCodeAt(0) - 87 : c >= 'A' && c <= 'Z' ? c.charCodeAt(0) - 29 : -1;
      if (d < 0) throw new Fail();
      v = v * 62 + d;
    }
    throw new Fail();
  }

  private disambiguator(): number {
    return this.eat('s') ? this.base62() + 1 : 0;
  }

  private ident(): string {
    const puny = this.eat('u');
    // decimal-number is `0` or starts with 1-9, so `00` is an empty name followed by another.
    const m = /^(?:0|[1-9]\d{0,5})/.exec(this.s.slice(this.pos, this.pos + 6));
    if (!m) throw new Fail();
    this.pos += m[0].length;
    this.eat('_');
    const n = Number(m[0]);
    if (this.pos + n > this.s.length) throw new Fail();
    const id = this.s.slice(this.pos, this.pos + n);
    this.pos += n;
    if (puny) throw new Fail(); // punycode identifiers are outside the subset
    return id;
  }

  private backref<T>(f: () => T): T {
    const start = this.pos - 1;
    const target = this.base62() + 2; // offsets count from after `_R`
    if (target >= start) throw new Fail();
    const saved = this.pos;
    this.pos = target;
    try {
      return f();
    } finally {
      this.pos = saved;
    }
  }

  path(inValue: boolean): string {
    return this.guard(() => {
      const c = this.next();
      switch (c) {
        case 'C':
          this.disambiguator();
          return this.ident();
        case 'N': {
          const ns = this.next();
          const prefix = this.path(inValue);
          const dis = this.disambiguator();
          const name = this.ident();
          if (ns >= 'a' && ns <= 'z') return name ? `${prefix}::${name}` : prefix;
          const kind = ns === 'C' ? 'closure' : ns === 'S' ? 'shim' : ns;
          return `${prefix}::{${kind}${name ? ':' + name : ''}#${dis}}`;
        }
        case 'M':
          this.disambiguator();
          this.path(false);
          return `<${this.type()}>`;
        case 'X': {
          this.disambiguator();
          this.path(false);
          const t = this.type();
          return `<${t} as ${this.path(false)}>`;
        }
        case 'Y': {
          const t = this.type();
          return `<${t} as ${this.path(false)}>`;
        }
        case 'I': {
          const p = this.path(inValue);
          const args = this.genericArgs();
          return `${p}${inValue ? '::' : ''}<${args}>`;
        }
        case 'B':
          return this.backref(() => this.path(inValue));
        default:
          throw new Fail();
      }
    });
  }

  private genericArgs(): string {
    const args: string[] = [];
    while (!this.eat('E')) {
      if (this.eat('L')) {
        this.base62();
        args.push("'_");
      } else if (this.eat('K')) args.push(this.konst());
      else args.push(this.type());
    }
    return args.join(', ');
  }

  private konst(): string {
    return this.guard(() => {
      if (this.eat('p')) return '_';
      if (this.eat('B')) return this.backref(() => this.konst());
      const t = this.next();
      if (!BASIC[t]) throw new Fail();
      const neg = SIGNED.has(t) && this.eat('n');
      const end = this.s.indexOf('_', this.pos);
      if (end < 0 || end - this.pos > 32) throw new Fail();
      const hex = this.s.slice(this.pos, end);
      if (!/^[0-9a-f]*$/.test(hex)) throw new Fail();
      this.pos = end + 1;
      const v = hex ? BigInt('0x' + hex) : 0n;
      if (t === 'b') return v === 0n ? 'false' : 'true';
      if (t === 'c') return `'${String.fromCodePoint(Number(v))}'`;
      return (neg ? '-' : '') + v.toString();
    });
  }

  private lifetimeOpt(): string {
    if (!this.eat('L')) return '';
    this.base62();
    return "'_ ";
  }

  type(): string {
    return this.guard(() => {
      const c = this.next();
      if (BASIC[c]) return BASIC[c];
      switch (c) {
        case 'R':
        case 'Q': {
          const lt = this.lifetimeOpt();
          return `&${lt}${c === 'Q' ? 'mut ' : ''}${this.type()}`;
        }
        case 'P':
          return `*const ${this.type()}`;
        case 'O':
          return `*mut ${this.type()}`;
        case 'A': {
          const t = this.type();
          return `[${t}; ${this.konst()}]`;
        }
        case 'S':
          return `[${this.type()}]`;
        case 'T': {
          const items: string[] = [];
          while (!this.eat('E')) items.push(this.type());
          return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
        }
        case 'F': {
          if (this.eat('G')) this.base62();
          let prefix = this.eat('U') ? 'unsafe ' : '';
          if (this.eat('K')) prefix += this.eat('C') ? 'extern "C" ' : `extern "${this.ident().replace(/_/g, '-')}" `;
          const params: string[] = [];
          while (!this.eat('E')) params.push(this.type());
          const ret = this.type();
          return `${prefix}fn(${params.join(', ')})${ret === '()' ? '' : ` -> ${ret}`}`;
        }
        case 'D': {
          if (this.eat('G')) this.base62();
          const traits: string[] = [];
          while (!this.eat('E')) {
            let t = this.path(false);
            const bindings: string[] = [];
            while (this.eat('p')) {
              const name = this.ident();
              bindings.push(`${name} = ${this.type()}`);
            }
            if (bindings.length) t = t.endsWith('>') ? `${t.slice(0, -1)}, ${bindings.join(', ')}>` : `${t}<${bindings.join(', ')}>`;
            traits.push(t);
          }
          this.lifetimeOpt();
          return `dyn ${traits.join(' + ')}`;
        }
        case 'B':
          return this.backref(() => this.type());
        default:
          this.pos--;
          return this.path(false);
      }
    });
  }
}

/** v0 mangling (`_R`); over the budget, undefined with `budget.overBudget` set. */
export function demangleRustV0(mangled: string, budget?: DemangleBudget): string | undefined {
  if (!mangled.startsWith('_R') || mangled.length > MAX_INPUT) return undefined;
  const sym = mangled.replace(/[.$].*$/, ''); // vendor-specific suffix
  let start = 2;
  while (sym[start] >= '0' && sym[start] <= '9') start++; // encoding version
  if (start !== 2) return undefined;
  try {
    const p = new V0(sym, start);
    const out = p.path(true);
    if (p.pos < sym.length) new V0(sym, p.pos).path(false); // the instantiating crate must parse too
    return out;
  } catch (err) {
    if ((err instanceof OverBudget || err instanceof RangeError) && budget) budget.overBudget = true;
    if (err instanceof Fail || err instanceof RangeError) return undefined;
    throw err;
  }
}
