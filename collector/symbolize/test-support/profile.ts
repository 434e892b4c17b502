// Reads recorded pprof files in the symbolizer's kernel tests: frames with their mapping and both names.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';

export interface DecodedFrame {
  name: string;
  systemName: string;
  mapping: string;
}

export interface DecodedSample {
  count: number;
  frames: DecodedFrame[];
  labels: Record<string, string | number>;
}

export function decodeProfile(bytes: Buffer): DecodedSample[] {
  const p = Profile.decode(bytes[0] === 0x1f ? gunzipSync(bytes) : bytes);
  const str = (i: unknown) => p.stringTable.strings[Number(i)] ?? '';
  const fns = new Map(p.function.map((f) => [Number(f.id), f]));
  const maps = new Map(p.mapping.map((m) => [Number(m.id), str(m.filename)]));
  const locs = new Map(p.location.map((l) => [Number(l.id), l]));
  return p.sample.map((s) => {
    const frames: DecodedFrame[] = [];
    for (const id of s.locationId) {
      const loc = locs.get(Number(id));
      if (!loc) continue;
      const mapping = maps.get(Number(loc.mappingId)) ?? '';
      if (loc.line.length === 0) frames.push({ name: '', systemName: '', mapping });
      for (const line of loc.line) {
        const f = fns.get(Number(line.functionId));
        frames.push({ name: str(f?.name), systemName: str(f?.systemName), mapping });
      }
    }
    const labels: Record<string, string | number> = {};
    for (const l of s.label) labels[str(l.key)] = Number(l.str) ? str(l.str) : Number(l.num);
    return { count: Number(s.value[0]), frames, labels };
  });
}

export function readProfile(file: string): DecodedSample[] {
  return decodeProfile(readFileSync(file));
}

/** Samples (weighted) whose stack has a frame matching `pred`. */
export function countWhere(samples: DecodedSample[], pred: (f: DecodedFrame) => boolean): number {
  return samples.filter((s) => s.frames.some(pred)).reduce((a, s) => a + s.count, 0);
}

export function total(samples: DecodedSample[]): number {
  return samples.reduce((a, s) => a + s.count, 0);
}
