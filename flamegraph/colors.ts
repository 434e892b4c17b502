import type { FrameKind } from './types.js';

/** FNV-1a over UTF-16 code units: cheap, stable, and spreads similar names apart. */
export function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

// [hue from, hue span, saturation %, lightness from, lightness span] per kind. Native spans red to yellow;
// kernel is a narrower, darker, fully saturated orange so it reads apart from native; JIT is green.
const PALETTE: Record<FrameKind, [number, number, number, number, number]> = {
  native: [0, 52, 80, 58, 10],
  kernel: [22, 10, 100, 46, 6],
  jit: [85, 50, 55, 50, 14],
  unknown: [0, 0, 0, 64, 14],
};

/** frameColor is a deterministic fill for a frame: the name's hash picks the shade within its kind's family. */
export function frameColor(name: string, kind: FrameKind): string {
  const h = hashName(name);
  const [hue, hueSpan, sat, light, lightSpan] = PALETTE[kind];
  const a = (h & 0xffff) / 0xffff;
  const b = (h >>> 16) / 0xffff;
  return `hsl(${Math.round(hue + a * hueSpan)},${sat}%,${Math.round(light + b * lightSpan)}%)`;
}

/**
 * diffColor: red where a frame's share grew, blue where it shrank, white when unchanged; `intensity` in
 * [0, 1] is the change relative to the largest change in the graph.
 */
export function diffColor(delta: number, intensity: number): string {
  const k = Math.round(Math.min(1, Math.max(0, intensity)) * 200);
  if (delta > 0 && k > 0) return `rgb(255,${255 - k},${255 - k})`;
  if (delta < 0 && k > 0) return `rgb(${255 - k},${255 - k},255)`;
  return 'rgb(255,255,255)';
}
