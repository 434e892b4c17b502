// What a benchmark section is to the orchestrator (bench/run.ts).
import type { ProcessGroup } from './procs.js';
import type { SectionInfo } from './report.js';
import type { Row } from './stats.js';

export interface SectionContext {
  /** Tiny sizes and durations (--quick): checks the suite works, measures nothing worth keeping. */
  quick: boolean;
  /** The repository (dist/ holds the build). */
  root: string;
  /** This run's scratch directory, on a disk (under /var/tmp), removed at the end. */
  tmp: string;
  /** Every child process goes through this group. */
  procs: ProcessGroup;
  /** Progress on stderr. */
  log(message: string): void;
  /** Rows of the sections that ran before (a section may compare with them). */
  previous: readonly Row[];
  /** Binaries compiled once for the run (spin: the load's spinner). */
  binaries: { spin: string };
}

export interface Section extends SectionInfo {
  /** Rough seconds it takes, for the progress line. */
  estimateS(quick: boolean): number;
  run(ctx: SectionContext): Promise<Row[]>;
}

/** A row that could not be measured, with the reason in place of figures. */
export function missingRow(section: string, metric: string, unit: string, note: string): Row {
  return { section, metric, unit, runs: [], note };
}
