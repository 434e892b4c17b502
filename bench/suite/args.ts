// The suite's sections in the order they run, and its command line.
import { accuracySection } from './accuracy.js';
import { agentCostSection } from './agent-cost.js';
import { existingSection } from './existing.js';
import { kernelCostSection } from './kernel-cost.js';
import { perfTodaySection } from './perf-today.js';
import { scalingSection } from './scaling.js';
import type { Section } from './section.js';
import { slowdownSection } from './slowdown.js';

export const SECTIONS: Section[] = [
  agentCostSection,
  kernelCostSection,
  perfTodaySection,
  scalingSection,
  slowdownSection,
  accuracySection,
  existingSection,
];

/** Sections are not started once this much time has gone (the whole run must end within 15 minutes). */
export const BUDGET_S = 14 * 60;

export const USAGE = `Usage: npm run bench [-- --quick] [-- --only SECTION,...] [-- --out-dir DIR]
Sections: ${SECTIONS.map((s) => s.name).join(', ')}`;

export interface BenchArgs {
  quick: boolean;
  only?: string[];
  outDir?: string;
}

export function parseBenchArgs(argv: string[]): BenchArgs {
  const out: BenchArgs = { quick: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') out.quick = true;
    else if (a === '--only') out.only = value().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a.startsWith('--only=')) out.only = a.slice(7).split(',').map((s) => s.trim()).filter(Boolean);
    else if (a === '--out-dir') out.outDir = value();
    else if (a.startsWith('--out-dir=')) out.outDir = a.slice(10);
    else throw new Error(`unknown argument ${a}`);
  }
  const unknown = (out.only ?? []).filter((n) => !SECTIONS.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`unknown section ${unknown.join(', ')}`);
  return out;
}

