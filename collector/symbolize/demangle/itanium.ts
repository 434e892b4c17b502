// Itanium C++ ABI demangler (the mangling of g++ and clang on Linux), for display names in profiles.
// Covers the common subset: nested and local names, templates with template-parameter references and packs,
// substitutions, std:: abbreviations, constructors/destructors, operators, ABI tags, lambdas, function,
// array and pointer-to-member types, integer literals, thunks/vtables/guards and GCC clone suffixes.
// Output follows binutils c++filt. Anything outside the subset (expressions, decltype, ...) makes the whole
// name fail: callers show the mangled name then.
// Bounds: substitutions and template parameters let a few input bytes repeat an earlier type, so printed text
// can double per reference (a 4 KiB name could print 2^1000 characters). Every string the parser builds goes
// through `text()`: none may exceed MAX_OUTPUT characters and all of them together MAX_WORK characters, which
// bounds time and memory by MAX_WORK (a few milliseconds) whatever the input. Over budget, the name is not
// demangled (OverBudget, which callers count).

/** A parsed type or template argument. Names are flattened to text once parsed; declarators keep structure. */
type Node =
  | { k: 'name'; s: string }
  | { k: 'ptr' | 'lref' | 'rref'; inner: Node }
  | { k: 'cv'; q: string; inner: Node }
  | { k: 'fn'; ret: Node | undefined; params: Node[]; cv: string }
  | { k: 'arr'; dim: string; inner: Node }
  | { k: 'pm'; cls: Node; inner: Node }
  | { k: 'pack'; items: Node[] };

class Fail extends Error {}
/** The name needs more output or work than the budget allows (a subclass: every Fail path handles it). */
export class OverBudget extends Fail {}

const MAX_INPUT = 4096;
const MAX_DEPTH = 128;
/**
 * Longest demangled name (and longest intermediate string). Real names reach about 6,300 characters (V8's
 * templates in the node binary); c++filt has no limit.
 */
export const MAX_OUTPUT = 16384;
/** Characters built in all for one name: real names use at most a few times their output (see demangle.test.ts). */
export const MAX_WORK = 1 << 18;

const BUILTINS: Record<string, string> = {
  v: 'void', w: 'wchar_t', b: 'bool', c: 'char', a: 'signed char', h: 'unsigned char', s: 'short',
  t: 'unsigned short', i: 'int', j: 'unsigned int', l: 'long', m: 'unsigned long', x: 'long long',
  y: 'unsigned long long', n: '__int128', o: 'unsigned __int128', f: 'float', d: 'double', e: 'long double',
  g: '__float128', z: '...',
};
const D_BUILTINS: Record<string, string> = {
  n: 'decltype(nullptr)', a: 'auto', c: 'decltype(auto)', i: 'char32_t', s: 'char16_t', u: 'char8_t',
  d: 'decimal64', e: 'decimal128', f: 'decimal32', h: 'half',
};
const OPERATORS: Record<string, string> = {
  nw: 'new', na: 'new[]', dl: 'delete', da: 'delete[]', ps: '+', ng: '-', ad: '&', de: '*', co: '~', pl: '+',
  mi: '-', ml: '*', dv: '/', rm: '%', an: '&', or: '|', eo: '^', aS: '=', pL: '+=', mI: '-=', mL: '*=', dV: '/=',
  rM: '%=', aN: '&=', oR: '|=', eO: '^=', ls: '<<', rs: '>>', lS: '<<=', rS: '>>=', eq: '==', ne: '!=', lt: '<',
  gt: '>', le: '<=', ge: '>=', ss: '<=>', nt: '!', aa: '&&', oo: '||', pp: '++', mm: '--', cm: ',', pm: '->*',
  pt: '->', cl: '()', ix: '[]', qu: '?', st: 'sizeof', sz: 'sizeof', at: 'alignof', az: 'alignof', aw: 'co_await',
};
const STRING_FULL = 'std::basic_string<char, std::char_traits<char>, std::allocator<char> >';
/** `S<x>` abbreviations: text and the class name a constructor/destructor of it takes. */
const STD_SUBS: Record<string, [string, string]> = {
  a: ['std::allocator', 'allocator'],
  b: ['std::basic_string', 'basic_string'],
  s: [STRING_FULL, 'basic_string'],
  i: ['std::basic_istream<char, std::char_traits<char> >', 'basic_istream'],
  o: ['std::basic_ostream<char, std::char_traits<char> >', 'basic_ostream'],
  d: ['std::basic_iostream<char, std::char_traits<char> >', 'basic_iostream'],
};
const LITERAL_SUFFIX: Record<string, string> = { i: '', j: 'u', l: 'l', m: 'ul', x: 'll', y: 'ull' };

/** A name being built: its text, the last plain identifier (for constructors) and whether it ends in template args. */
interface NameInfo {
  s: string;
  last: string;
  templated: boolean;
  ctorDtor: boolean;
  /** Template arguments of the last component (what T_ refers to inside a function template's signature). */
  args?: Node[];
}

class Parser {
  pos = 0;
  private subs: Node[] = [];
  private tparams: Node[] = [];
  private depth = 0;

  constructor(private readonly s: string) {}

  peek(o = 0): string {
    return this.s[this.pos + o] ?? '';
  }

  eat(c: string): boolean {
    if (this.s.startsWith(c, this.pos)) {
      this.pos += c.length;
      return true;
    }
    return false;
  }

  expect(c: string): void {
    if (!this.eat(c)) throw new Fail();
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) throw new Fail();
  }

  private work = MAX_WORK;

  /** Charges `n` characters of work (scanning or copying). */
  charge(n: number): void {
    if ((this.work -= n) < 0) throw new OverBudget();
  }

  /** Every string built from parsed parts passes here: bounded in length, charged to the work budget. */
  text(s: string): string {
    if (s.length > MAX_OUTPUT) throw new OverBudget();
    this.charge(s.length + 1);
    return s;
  }

  number(): number {
    const neg = this.eat('n');
    const m = /^\d+/.exec(this.s.slice(this.pos, this.pos + 12));
    if (!m) throw new Fail();
    this.pos += m[0].length;
    return neg ? -Number(m[0]) : Number(m[0]);
  }

  /** `[<base-36 number>] _`: undefined for a bare `_` (index 0 of the scheme, which callers map). */
  seqId(): number {
    if (this.eat('_')) return 0;
    const m = /^[0-9A-Z]+/.exec(this.s.slice(this.pos, this.pos + 8));
    if (!m) throw new Fail();
    this.pos += m[0].length;
    this.expect('_');
    return parseInt(m[0], 36) + 1;
  }

  sourceName(): string {
    const n = this.number();
    if (n <= 0 || this.pos + n > this.s.length) throw new Fail();
    const id = this.s.slice(this.pos, this.pos + n);
    this.pos += n;
    return id.startsWith('_GLOBAL__N') ? '(anonymous namespace)' : id;
  }

  /** <encoding>: a function (name + signature), a data name, or a special name. */
  /** `local`: the function enclosing a local name, which c++filt prints without its return type. */
  encoding(local = false): string {
    this.enter();
    try {
      if (this.peek() === 'T' || this.peek() === 'G') return this.specialName();
      const savedParams = this.tparams;
      this.methodQuals = '';
      const name = this.name();
      const quals = this.methodQuals;
      const c = this.peek();
      if (c === '' || c === 'E' || c === '.') {
        this.tparams = savedParams;
        return name.s;
      }
      if (name.args) this.tparams = name.args;
      let ret: Node | undefined;
      if (name.templated && !name.ctorDtor) ret = this.type();
      const params = this.paramList();
      this.tparams = savedParams;
      return this.text(`${ret && !local ? this.print(ret) + ' ' : ''}${name.s}(${params})${quals}`);
    } finally {
      this.depth--;
    }
  }

  /** cv and ref qualifiers of the nested name just parsed, printed after a member function's parameters. */
  private methodQuals = '';

  private paramList(): string {
    const params: Node[] = [];
    while (this.pos < this.s.length && this.peek() !== 'E' && this.peek() !== '.') params.push(this.type());
    if (params.length === 0) throw new Fail();
    return this.printParams(params);
  }

  private printParams(params: Node[]): string {
    const flat = flattenPacks(params, this);
    if (flat.length === 1 && flat[0].k === 'name' && flat[0].s === 'void') return '';
    return this.text(flat.map((p) => this.print(p)).join(', '));
  }

  private specialName(): string {
    if (this.eat('GV')) return this.text(`guard variable for ${this.name().s}`);
    if (this.eat('GTt')) return this.text(`transaction clone for ${this.encoding()}`);
    this.expect('T');
    const c = this.s[this.pos++];
    switch (c) {
      case 'V': return this.text(`vtable for ${this.print(this.type())}`);
      case 'T': return this.text(`VTT for ${this.print(this.type())}`);
      case 'I': return this.text(`typeinfo for ${this.print(this.type())}`);
      case 'S': return this.text(`typeinfo name for ${this.print(this.type())}`);
      case 'W': return this.text(`TLS wrapper function for ${this.name().s}`);
      case 'H': return this.text(`TLS init function for ${this.name().s}`);
      case 'h':
        this.number();
        this.expect('_');
        return this.text(`non-virtual thunk to ${this.encoding()}`);
      case 'v':
        this.number();
        this.expect('_');
        this.number();
        this.expect('_');
        return this.text(`virtual thunk to ${this.encoding()}`);
      default:
        throw new Fail();
    }
  }

  name(): NameInfo {
    this.enter();
    try {
      const c = this.peek();
      if (c === 'N') return this.nestedName();
      if (c === 'Z') return this.localName();
      let prefix = '';
      if (this.eat('St')) prefix = 'std::';
      else if (c === 'S') {
        // A substitution followed by template args names an unscoped template (`_ZSt4swapIiE...` uses S_ etc.).
        const sub = this.substitution();
        const args = this.templateArgs();
        const s = this.text(`${this.print(sub.node)}${printArgs(args, this)}`);
        this.subs.push({ k: 'name', s });
        return { s, last: sub.last, templated: true, ctorDtor: false, args };
      }
      const u = this.unqualifiedName('', false);
      let s = this.text(prefix + u.s);
      if (this.peek() === 'I') {
        this.subs.push({ k: 'name', s }); // an unscoped template name is substitutable
        const args = this.templateArgs();
        s = this.text(s + printArgs(args, this, s));
        return { s, last: u.last, templated: true, ctorDtor: false, args };
      }
      return { s, last: u.last, templated: false, ctorDtor: u.ctorDtor };
    } finally {
      this.depth--;
    }
  }

  private localName(): NameInfo {
    this.expect('Z');
    const fn = this.encoding(true);
    this.methodQuals = '';
    this.expect('E');
    if (this.eat('s')) {
      this.discriminator();
      return { s: this.text(`${fn}::string literal`), last: 'string literal', templated: false, ctorDtor: false };
    }
    const inner = this.name();
    this.discriminator();
    return { ...inner, s: this.text(`${fn}::${inner.s}`) };
  }

  private discriminator(): void {
    if (this.peek() !== '_') return;
    if (this.eat('__')) {
      this.number();
      this.expect('_');
    } else {
      this.pos++;
      this.number();
    }
  }

  private nestedName(): NameInfo {
    this.expect('N');
    let quals = '';
    while ('rVK'.includes(this.peek()) && this.peek() !== '') {
      const q = this.s[this.pos++];
      quals = (q === 'K' ? ' const' : q === 'V' ? ' volatile' : ' restrict') + quals;
    }
    // c++filt prints qualifiers in the order restrict, volatile, const reading right to left: const volatile.
    quals = reorderQuals(quals);
    if (this.eat('R')) quals += ' &';
    else if (this.eat('O')) quals += ' &&';
    let s = '';
    let last = '';
    let templated = false;
    let ctorDtor = false;
    let args: Node[] | undefined;
    for (let first = true; !this.eat('E'); first = false) {
      if (this.pos >= this.s.length) throw new Fail();
      const c = this.peek();
      templated = false;
      if (c === 'I') {
        if (first) throw new Fail();
        args = this.templateArgs();
        s = this.text(s + printArgs(args, this, s));
        templated = true; // a constructor template stays a constructor: no return type
      } else if (first && c === 'S' && this.peek(1) === 't') {
        ctorDtor = false;
        this.pos += 2;
        const u = this.unqualifiedName('', false);
        s = this.text('std::' + u.s);
        last = u.last;
        args = undefined;
      } else if (first && c === 'S') {
        ctorDtor = false;
        const sub = this.substitution();
        s = this.print(sub.node);
        last = sub.last;
        continue; // a substitution is not a new candidate
      } else if (first && c === 'T') {
        ctorDtor = false;
        s = this.print(this.templateParam());
        last = s;
      } else {
        const u = this.unqualifiedName(last, true);
        s = first ? u.s : this.text(`${s}::${u.s}`);
        last = u.last;
        ctorDtor = u.ctorDtor;
        args = undefined;
      }
      if (this.peek() !== 'E') this.subs.push({ k: 'name', s });
    }
    this.methodQuals = quals;
    return { s, last, templated, ctorDtor, args: templated ? args : undefined };
  }

  /** An unqualified name; `cls` is the enclosing class's plain name, for constructors and destructors. */
  private unqualifiedName(cls: string, nested: boolean): { s: string; last: string; ctorDtor: boolean } {
    const c = this.peek();
    let s: string;
    let last: string;
    let ctorDtor = false;
    if (c === 'L') this.pos++; // internal linkage marker
    const d = this.peek();
    if (d >= '0' && d <= '9') {
      s = last = this.sourceName();
    } else if (d === 'C' && nested && /^C(I?[1-5])/.test(this.s.slice(this.pos, this.pos + 3))) {
      this.pos += this.peek(1) === 'I' ? 3 : 2;
      if (this.s[this.pos - 2] === 'I') this.type(); // inheriting constructor names its base
      if (!cls) throw new Fail();
      s = last = cls;
      ctorDtor = true;
    } else if (d === 'D' && nested && /^D[0-5]/.test(this.s.slice(this.pos, this.pos + 2))) {
      this.pos += 2;
      if (!cls) throw new Fail();
      s = '~' + cls;
      last = cls;
      ctorDtor = true;
    } else if (d === 'U') {
      s = last = this.unnamedType();
    } else if (d === 'c' && this.peek(1) === 'v') {
      this.pos += 2;
      s = last = this.text(`operator ${this.print(this.type())}`);
    } else if (d === 'l' && this.peek(1) === 'i') {
      this.pos += 2;
      s = last = `operator"" ${this.sourceName()}`;
    } else {
      const op = OPERATORS[this.s.slice(this.pos, this.pos + 2)];
      if (!op) throw new Fail();
      this.pos += 2;
      s = last = /^[a-z]/.test(op) ? `operator ${op}` : `operator${op}`;
    }
    while (this.peek() === 'B') {
      this.pos++;
      s = this.text(`${s}[abi:${this.sourceName()}]`);
    }
    return { s, last, ctorDtor };
  }

  private unnamedType(): string {
    if (this.eat('Ut')) {
      const n = this.peek() === '_' ? 0 : this.number() + 1;
      this.expect('_');
      return `{unnamed type#${n + 1}}`;
    }
    this.expect('Ul');
    const params: Node[] = [];
    while (this.peek() !== 'E') {
      if (this.pos >= this.s.length) throw new Fail();
      params.push(this.type());
    }
    this.pos++;
    const n = this.peek() === '_' ? 0 : this.number() + 1;
    this.expect('_');
    return this.text(`{lambda(${this.printParams(params)})#${n + 1}}`);
  }

  private substitution(): { node: Node; last: string } {
    this.expect('S');
    const c = this.peek();
    const std = STD_SUBS[c];
    if (std) {
      this.pos++;
      return { node: { k: 'name', s: std[0] }, last: std[1] };
    }
    const id = this.seqId();
    const node = this.subs[id];
    if (!node) throw new Fail();
    if (node.k !== 'name') return { node, last: '' };
    this.charge(node.s.length);
    return { node, last: lastComponent(node.s) };
  }

  private templateParam(): Node {
    this.expect('T');
    const i = this.seqId();
    const node = this.tparams[i];
    if (!node) throw new Fail();
    return node;
  }

  templateArgs(): Node[] {
    this.enter();
    try {
      this.expect('I');
      const args: Node[] = [];
      while (!this.eat('E')) {
        if (this.pos >= this.s.length) throw new Fail();
        args.push(this.templateArg());
      }
      return args;
    } finally {
      this.depth--;
    }
  }

  private templateArg(): Node {
    const c = this.peek();
    if (c === 'L') return this.literal();
    if (c === 'J') {
      this.pos++;
      const items: Node[] = [];
      while (!this.eat('E')) {
        if (this.pos >= this.s.length) throw new Fail();
        items.push(this.templateArg());
      }
      return { k: 'pack', items };
    }
    if (c === 'X') throw new Fail(); // expressions are outside the subset
    return this.type();
  }

  private literal(): Node {
    this.expect('L');
    if (this.eat('_Z')) {
      const e = this.encoding();
      this.expect('E');
      return { k: 'name', s: e };
    }
    const t = this.peek();
    if (t === 'b') {
      this.pos++;
      const v = this.number();
      this.expect('E');
      return { k: 'name', s: v ? 'true' : 'false' };
    }
    const ty = this.type();
    const v = this.number();
    this.expect('E');
    if (ty.k === 'name' && t in LITERAL_SUFFIX) return { k: 'name', s: `${v}${LITERAL_SUFFIX[t]}` };
    return { k: 'name', s: this.text(`(${this.print(ty)})${v}`) };
  }

  type(): Node {
    this.enter();
    try {
      return this.typeInner();
    } finally {
      this.depth--;
    }
  }

  private typeInner(): Node {
    const c = this.peek();
    const b = BUILTINS[c];
    if (b) {
      this.pos++;
      return { k: 'name', s: b };
    }
    let node: Node;
    switch (c) {
      case 'u':
        this.pos++;
        return { k: 'name', s: this.sourceName() };
      case 'D': {
        const d = this.peek(1);
        if (D_BUILTINS[d]) {
          this.pos += 2;
          return { k: 'name', s: D_BUILTINS[d] };
        }
        if (d === 'p') {
          this.pos += 2;
          node = expandPack(this.type());
          if (node.k === 'pack') this.charge(node.items.length);
          break;
        }
        if (d === 'F') {
          // DF<bits>_ : _FloatN
          this.pos += 2;
          const n = this.number();
          this.expect('_');
          return { k: 'name', s: `_Float${n}` };
        }
        throw new Fail();
      }
      case 'P':
      case 'R':
      case 'O':
        this.pos++;
        node = { k: c === 'P' ? 'ptr' : c === 'R' ? 'lref' : 'rref', inner: this.type() };
        node = collapseRef(node);
        break;
      case 'r':
      case 'V':
      case 'K': {
        let q = '';
        while ('rVK'.includes(this.peek()) && this.peek() !== '') {
          const x = this.s[this.pos++];
          q += x === 'K' ? ' const' : x === 'V' ? ' volatile' : ' restrict';
        }
        q = reorderQuals(q);
        const inner = this.type();
        if (inner.k === 'fn') node = { ...inner, cv: inner.cv + q };
        else node = { k: 'cv', q, inner };
        break;
      }
      case 'F': {
        this.pos++;
        this.eat('Y');
        const ret = this.type();
        const params: Node[] = [];
        let ref = '';
        while (!this.eat('E')) {
          if (this.pos >= this.s.length) throw new Fail();
          if (this.peek() === 'R' && this.peek(1) === 'E') { this.pos++; ref = ' &'; continue; }
          if (this.peek() === 'O' && this.peek(1) === 'E') { this.pos++; ref = ' &&'; continue; }
          params.push(this.type());
        }
        node = { k: 'fn', ret, params, cv: ref };
        break;
      }
      case 'A': {
        this.pos++;
        let dim = '';
        if (this.peek() !== '_') dim = String(this.number());
        this.expect('_');
        node = { k: 'arr', dim, inner: this.type() };
        break;
      }
      case 'M': {
        this.pos++;
        const cls = this.type();
        node = { k: 'pm', cls, inner: this.type() };
        break;
      }
      case 'T': {
        node = this.templateParam();
        if (this.peek() === 'I') {
          this.subs.push(node);
          node = { k: 'name', s: this.text(this.print(node) + printArgs(this.templateArgs(), this)) };
        }
        break;
      }
      case 'S': {
        if (this.peek(1) === 't') {
          const n = this.name();
          node = { k: 'name', s: n.s };
          break;
        }
        const sub = this.substitution();
        if (this.peek() !== 'I') return sub.node; // a substitution is not added again
        node = { k: 'name', s: this.text(this.print(sub.node) + printArgs(this.templateArgs(), this)) };
        break;
      }
      case 'N':
      case 'Z':
        node = { k: 'name', s: this.name().s };
        break;
      default:
        if ((c >= '0' && c <= '9') || c === 'U') {
          node = { k: 'name', s: this.name().s };
          break;
        }
        throw new Fail();
    }
    this.subs.push(node);
    return node;
  }

  private printBudget = MAX_OUTPUT * 4;

  print(t: Node): string {
    return this.declarator(t, '');
  }

  /** Prints type `t` around the declarator text `sym` (`*`, `(*)(int)`, a member pointer, ...), as C++ does. */
  private declarator(t: Node, sym: string): string {
    if (--this.printBudget < 0) throw new OverBudget();
    this.text(sym);
    switch (t.k) {
      case 'name':
        return this.text(join(t.s, sym));
      case 'ptr':
        return this.declarator(t.inner, '*' + spaced(t.inner, sym));
      case 'lref':
        return this.declarator(t.inner, '&' + spaced(t.inner, sym));
      case 'rref':
        return this.declarator(t.inner, '&&' + spaced(t.inner, sym));
      case 'cv':
        return this.declarator(t.inner, t.q + spaced(t.inner, sym));
      case 'pm':
        return this.declarator(t.inner, `${this.print(t.cls)}::*${sym}`);
      case 'fn': {
        const params = `(${this.printParams(t.params)})${t.cv}`;
        return this.declarator(t.ret ?? { k: 'name', s: '' }, sym ? `(${sym})${params}` : params);
      }
      case 'arr':
        return this.declarator(t.inner, sym ? `(${sym}) [${t.dim}]` : `[${t.dim}]`);
      case 'pack':
        return this.text(join(flattenPacks(t.items, this).map((x) => this.print(x)).join(', '), sym));
    }
  }
}

/**
 * c++filt writes `void* (*)(int)` and `char const (&) [2]` but `int (*(*)())()`: a space before a parenthesized
 * declarator unless the pointer itself goes inside the parentheses of a function or array type.
 */
function spaced(inner: Node, sym: string): string {
  return sym.startsWith('(') && inner.k !== 'fn' && inner.k !== 'arr' ? ' ' + sym : sym;
}

function join(base: string, sym: string): string {
  if (!sym) return base;
  if (sym[0] === '*' || sym[0] === '&' || sym[0] === ' ') return base + sym;
  return `${base} ${sym}`;
}

function reorderQuals(q: string): string {
  const parts = q.split(' ').filter(Boolean);
  const order = ['restrict', 'const', 'volatile'];
  return parts.sort((a, b) => order.indexOf(a) - order.indexOf(b)).map((p) => ' ' + p).join('');
}

/** Reference collapsing (`T&` with T = `int&&` is `int&`), as c++filt applies it to substituted packs. */
function collapseRef(n: Node): Node {
  if ((n.k === 'lref' || n.k === 'rref') && (n.inner.k === 'lref' || n.inner.k === 'rref')) {
    return { k: n.k === 'lref' || n.inner.k === 'lref' ? 'lref' : 'rref', inner: n.inner.inner };
  }
  return n;
}

/** `Dp T`: applies the wrappers around a pack to each of its elements. */
function expandPack(t: Node): Node {
  if (t.k === 'pack') return t;
  if (t.k === 'ptr' || t.k === 'lref' || t.k === 'rref') {
    const inner = expandPack(t.inner);
    if (inner.k === 'pack') return { k: 'pack', items: inner.items.map((x) => collapseRef({ k: t.k, inner: x } as Node)) };
    return t;
  }
  if (t.k === 'cv') {
    const inner = expandPack(t.inner);
    if (inner.k === 'pack') return { k: 'pack', items: inner.items.map((x) => ({ k: 'cv', q: t.q, inner: x }) as Node) };
  }
  return t;
}

/** The items of nested packs in order; `p` is charged per node visited (packs can share packs, a DAG). */
function flattenPacks(list: Node[], p: Parser, out: Node[] = []): Node[] {
  for (const n of list) {
    p.charge(1);
    if (n.k === 'pack') flattenPacks(n.items, p, out);
    else out.push(n);
  }
  return out;
}

/** `<a, b>`; c++filt separates `> >` and puts a space after `operator<`. */
function printArgs(args: Node[], p: Parser, after = ''): string {
  const body = p.text(flattenPacks(args, p).map((a) => p.print(a)).join(', '));
  return p.text(`${after.endsWith('<') ? ' ' : ''}<${body}${body.endsWith('>') ? ' ' : ''}>`);
}

/** The plain class name of a qualified name (`ns::A<int>` → `A`), for constructors named by a substitution. */
function lastComponent(s: string): string {
  let end = s.length;
  if (s.endsWith('>')) {
    let depth = 0;
    for (let i = s.length - 1; i >= 0; i--) {
      if (s[i] === '>') depth++;
      else if (s[i] === '<' && --depth === 0) {
        end = i;
        break;
      }
    }
  }
  const plain = s.slice(0, end).trimEnd();
  const i = plain.lastIndexOf('::');
  return i < 0 ? plain : plain.slice(i + 2);
}

/** GCC clone suffixes (`.cold`, `.constprop.0`, `.isra.0.part.1`) become ` [clone .x]` as c++filt shows them. */
function cloneSuffix(rest: string): string | undefined {
  let out = '';
  const re = /^\.[A-Za-z_]+(?:\.\d+)*|^(?:\.\d+)+/;
  while (rest) {
    const m = re.exec(rest);
    if (!m) return undefined;
    out += ` [clone ${m[0]}]`;
    rest = rest.slice(m[0].length);
  }
  return out;
}

/** Set by the demanglers when a name was given up for exceeding the output or work budget. */
export interface DemangleBudget {
  overBudget: boolean;
}

/**
 * Demangles an Itanium C++ symbol (`_Z...`); undefined when it is not one, uses what this subset lacks, or
 * exceeds the budget (then `budget.overBudget` is set).
 */
export function demangleItanium(mangled: string, budget?: DemangleBudget): string | undefined {
  if (!mangled.startsWith('_Z') || mangled.length > MAX_INPUT) return undefined;
  const p = new Parser(mangled);
  p.pos = 2;
  try {
    const out = p.encoding();
    const suffix = cloneSuffix(mangled.slice(p.pos));
    if (suffix === undefined) return undefined;
    return p.text(out + suffix);
  } catch (err) {
    // RangeError: the call stack or a string ran out, which only a pathological name does.
    if ((err instanceof OverBudget || err instanceof RangeError) && budget) budget.overBudget = true;
    if (err instanceof Fail || err instanceof RangeError) return undefined;
    throw err;
  }
}
