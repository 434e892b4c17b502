// The errors exporters/ throws or reports. exporters/ may not import the collector, so its codes are declared
// here and listed in the one catalogue, collector/errors.ts (ErrorCodes), which imports them.

export const ExporterErrorCodes = {
  /** A bad input file (profile, ELF, folded stacks); decodePprof refuses a profile it cannot read. */
  INPUT: 'HP_ERR_INPUT',
  /** A caller's option the exporter refuses, such as a histogram bucket layout out of range. */
  OPTION: 'HP_ERR_OPTION',
  /** A metric or series left out of one collect (a source method threw, or gave bad or too many series). */
  METRICS_COLLECT: 'HP_ERR_METRICS_COLLECT',
} as const;

export type ExporterErrorCode = (typeof ExporterErrorCodes)[keyof typeof ExporterErrorCodes];

/** An error of exporters/ with a stable `code`; the message names the step that failed. */
export class ExporterError extends Error {
  readonly code: ExporterErrorCode;

  constructor(code: ExporterErrorCode, message: string) {
    super(message);
    this.name = 'ExporterError';
    this.code = code;
  }
}
