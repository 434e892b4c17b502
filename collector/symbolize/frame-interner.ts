// Frames the symbolizer cannot name from a parsed file (unknown addresses, JIT code named by a perf map, code in
// a file that could not be read) used to be new objects in every window. The retained history finds frames by
// object first and, failing that, by a key string built of every field: on a busy machine running JIT code
// without perf maps (node, java) that was most of the agent's garbage (527 MB in 30 s at --hz 990, measured with
// V8's sampling heap profiler). The same address with the same name and mapping is the same frame, so one
// object per value is handed out instead, from tables bounded by count: past the bound they start over (the
// frames already handed out stay valid; only their sharing with later windows is lost).
import type { ProfileFrame, ProfileMapping } from '../../exporters/pprof/types.js';

/** Frames kept per table before it starts over: ~120 bytes each, at most 1.5 MB for the three tables. */
export const MAX_INTERNED_FRAMES = 4_096;
/** Estimated bytes one interned frame keeps (the object, its bigint, the map slot). */
export const INTERNED_FRAME_BYTES = 120;

export class FrameInterner {
  private readonly unknownFrames = new Map<bigint, ProfileFrame>();
  private readonly jitFrames = new Map<bigint, ProfileFrame>();
  private readonly unnamedFrames = new Map<ProfileMapping, Map<bigint, ProfileFrame>>();
  private unnamedCount = 0;
  /** Times a table was full and started over. */
  resets = 0;

  constructor(private readonly maxFrames = MAX_INTERNED_FRAMES) {}

  /** `{ address, kind: 'unknown', mapping }`, one object per address (all share the one unknown mapping). */
  unknown(address: bigint, mapping: ProfileMapping): ProfileFrame {
    let f = this.unknownFrames.get(address);
    if (f === undefined || f.mapping !== mapping) {
      if (this.unknownFrames.size >= this.maxFrames) this.startOver(this.unknownFrames);
      f = { address, kind: 'unknown', mapping };
      this.unknownFrames.set(address, f);
    }
    return f;
  }

  /** A JIT frame named `name` by a perf map: one object per address while its name stays the same. */
  jit(address: bigint, name: string, mapping: ProfileMapping): ProfileFrame {
    let f = this.jitFrames.get(address);
    if (f === undefined || f.functionName !== name || f.mapping !== mapping) {
      if (f === undefined && this.jitFrames.size >= this.maxFrames) this.startOver(this.jitFrames);
      f = { address, functionName: name, systemName: name, kind: 'jit', mapping };
      this.jitFrames.set(address, f);
    }
    return f;
  }

  /** An unnamed native frame in a file that was not read (its mapping says which): one object per address. */
  unnamed(address: bigint, mapping: ProfileMapping): ProfileFrame {
    let byAddress = this.unnamedFrames.get(mapping);
    let f = byAddress?.get(address);
    if (f === undefined) {
      if (this.unnamedCount >= this.maxFrames) {
        this.unnamedFrames.clear();
        this.unnamedCount = 0;
        this.resets++;
        byAddress = undefined;
      }
      if (byAddress === undefined) {
        byAddress = new Map();
        this.unnamedFrames.set(mapping, byAddress);
      }
      f = { address, kind: 'native', mapping };
      byAddress.set(address, f);
      this.unnamedCount++;
    }
    return f;
  }

  /** Frames held now. */
  get size(): number {
    return this.unknownFrames.size + this.jitFrames.size + this.unnamedCount;
  }

  /** Estimated bytes held now (at most 3 × maxFrames × INTERNED_FRAME_BYTES). */
  get bytes(): number {
    return this.size * INTERNED_FRAME_BYTES;
  }

  private startOver(table: Map<bigint, ProfileFrame>): void {
    table.clear();
    this.resets++;
  }
}
