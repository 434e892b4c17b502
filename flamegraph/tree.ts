import type { FoldedStack, FrameKind } from './types.js';

/** One frame of the merged call tree; `value` includes the children, `self` does not. */
export interface FlameNode {
  name: string;
  kind: FrameKind;
  value: number;
  self: number;
  /** Sorted by name (then kind) so that equal input gives equal output whatever the input order. */
  children: FlameNode[];
}

export interface BuildTreeOptions {
  /** Name of the synthetic root frame. */
  rootName?: string;
  /** Deeper frames are cut; their value stays with the deepest kept frame. Bounds the picture's height. */
  maxDepth?: number;
  /** Tree size limit: frames that would add nodes beyond it are cut like maxDepth. Bounds memory. */
  maxNodes?: number;
}

export interface FlameTree {
  root: FlameNode;
  /** Stacks left out because their value was negative or not a number. */
  droppedStacks: number;
  /** Stacks cut at maxDepth or maxNodes. */
  truncatedStacks: number;
}

const DEFAULT_MAX_DEPTH = 2048;
const DEFAULT_MAX_NODES = 8_000_000;
// Children are found by scanning siblings; a node that fans out wider than this gets a hash index.
const INDEX_AFTER = 8;
const KINDS: FrameKind[] = ['kernel', 'native', 'jit', 'unknown'];

/**
 * StackTree is the merged call tree in flat typed arrays: 100k stacks make about two million nodes, and one
 * object per node costs more in garbage collection than everything else together. Node 0 is the root.
 */
export class StackTree {
  readonly names: string[] = [];
  readonly kinds: FrameKind[] = [];
  nameId = new Int32Array(1024);
  firstChild = new Int32Array(1024).fill(-1);
  nextSibling = new Int32Array(1024).fill(-1);
  childCount = new Int32Array(1024);
  value = new Float64Array(1024);
  self = new Float64Array(1024);
  size = 0;
  droppedStacks = 0;
  truncatedStacks = 0;
  private readonly intern = new Map<FrameKind, Map<string, number>>(KINDS.map((k) => [k, new Map()]));
  private readonly fanout = new Map<number, Map<number, number>>();

  constructor(stacks: FoldedStack[], opts: BuildTreeOptions = {}) {
    const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
    const maxNodes = opts.maxNodes ?? DEFAULT_MAX_NODES;
    this.addNode(this.nameOf(opts.rootName ?? 'all', 'unknown'));
    for (const stack of stacks) {
      const v = stack.value;
      if (!(v > 0) || !Number.isFinite(v)) {
        if (v !== 0) this.droppedStacks++;
        continue;
      }
      let node = 0;
      this.value[0] += v;
      const frames = stack.frames;
      const n = Math.min(frames.length, maxDepth);
      let cut = n < frames.length;
      for (let i = 0; i < n; i++) {
        const f = frames[i];
        const id = this.nameOf(f.name, f.kind);
        let child = this.child(node, id);
        if (child < 0) {
          if (this.size >= maxNodes) {
            cut = true;
            break;
          }
          child = this.addNode(id);
          this.link(node, child);
        }
        this.value[child] += v;
        node = child;
      }
      if (cut) this.truncatedStacks++;
      this.self[node] += v;
    }
  }

  /** Interned id of a (name, kind) pair, or -1 when absent and `add` is false. */
  nameOf(name: string, kind: FrameKind, add = true): number {
    const byName = this.intern.get(kind) ?? this.intern.get('unknown')!;
    let id = byName.get(name);
    if (id === undefined) {
      if (!add) return -1;
      id = this.names.length;
      this.names.push(name);
      this.kinds.push(kind);
      byName.set(name, id);
    }
    return id;
  }

  /** The child of `node` with that interned name, or -1. */
  child(node: number, id: number): number {
    const index = this.fanout.get(node);
    if (index) return index.get(id) ?? -1;
    for (let c = this.firstChild[node]; c >= 0; c = this.nextSibling[c]) if (this.nameId[c] === id) return c;
    return -1;
  }

  /** Children of `node` sorted by name, then kind. */
  children(node: number): number[] {
    const out: number[] = [];
    for (let c = this.firstChild[node]; c >= 0; c = this.nextSibling[c]) out.push(c);
    if (out.length > 1) {
      out.sort((a, b) => {
        const na = this.names[this.nameId[a]];
        const nb = this.names[this.nameId[b]];
        if (na !== nb) return na < nb ? -1 : 1;
        const ka = this.kinds[this.nameId[a]];
        const kb = this.kinds[this.nameId[b]];
        return ka < kb ? -1 : ka > kb ? 1 : 0;
      });
    }
    return out;
  }

  name(node: number): string {
    return this.names[this.nameId[node]];
  }

  kind(node: number): FrameKind {
    return this.kinds[this.nameId[node]];
  }

  private addNode(id: number): number {
    if (this.size === this.nameId.length) this.grow();
    const n = this.size++;
    this.nameId[n] = id;
    return n;
  }

  private link(parent: number, child: number): void {
    this.nextSibling[child] = this.firstChild[parent];
    this.firstChild[parent] = child;
    const count = ++this.childCount[parent];
    const index = this.fanout.get(parent);
    if (index) index.set(this.nameId[child], child);
    else if (count > INDEX_AFTER) {
      const m = new Map<number, number>();
      for (let c = this.firstChild[parent]; c >= 0; c = this.nextSibling[c]) m.set(this.nameId[c], c);
      this.fanout.set(parent, m);
    }
  }

  private grow(): void {
    const cap = this.nameId.length * 2;
    const growI = (a: Int32Array, fill: number) => {
      const b = new Int32Array(cap).fill(fill);
      b.set(a);
      return b;
    };
    const growF = (a: Float64Array) => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    this.nameId = growI(this.nameId, 0);
    this.firstChild = growI(this.firstChild, -1);
    this.nextSibling = growI(this.nextSibling, -1);
    this.childCount = growI(this.childCount, 0);
    this.value = growF(this.value);
    this.self = growF(this.self);
  }
}

/** buildTree merges identical prefixes of the stacks into one tree of objects under a root frame (`all`). */
export function buildTree(stacks: FoldedStack[], opts: BuildTreeOptions = {}): FlameTree {
  const t = new StackTree(stacks, opts);
  const make = (n: number): FlameNode => ({ name: t.name(n), kind: t.kind(n), value: t.value[n], self: t.self[n], children: [] });
  const root = make(0);
  // Iterative: a deep recursion in the profile must not become a deep recursion here.
  const todo: [number, FlameNode][] = [[0, root]];
  while (todo.length > 0) {
    const [n, node] = todo.pop()!;
    for (const c of t.children(n)) {
      const child = make(c);
      node.children.push(child);
      todo.push([c, child]);
    }
  }
  return { root, droppedStacks: t.droppedStacks, truncatedStacks: t.truncatedStacks };
}
