// The catalogue of hotpath's errors. Every error has a stable `code`; messages name the step that failed.

export const ErrorCodes = {
  /** Not privileged enough to load BPF programs or open perf events. */
  PRIVILEGE: 'HP_ERR_PRIVILEGE',
  /** A command-line flag or value is wrong. */
  USAGE: 'HP_ERR_USAGE',
  /** A BPF object file could not be opened or parsed. */
  OPEN_OBJECT: 'HP_ERR_OPEN_OBJECT',
  /** The kernel refused to load a program or create a map. */
  LOAD_OBJECT: 'HP_ERR_LOAD_OBJECT',
  /** A program, map or section named by the collector is not in the object. */
  NOT_FOUND: 'HP_ERR_NOT_FOUND',
  /** A map's key/value size differs from the layout the decoder mirrors. */
  LAYOUT: 'HP_ERR_LAYOUT',
  /** perf_event_open failed. */
  PERF_EVENT: 'HP_ERR_PERF_EVENT',
  /** Attaching a program failed. */
  ATTACH: 'HP_ERR_ATTACH',
  /** A map operation failed. */
  MAP: 'HP_ERR_MAP',
  /** A bad input file (profile, ELF, folded stacks). */
  INPUT: 'HP_ERR_INPUT',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class HotpathError extends Error {
  readonly code: ErrorCode;
  /** errno of the failing system call, when there was one. */
  readonly errno?: number;

  constructor(code: ErrorCode, message: string, errno?: number) {
    super(message);
    this.name = 'HotpathError';
    this.code = code;
    this.errno = errno;
  }
}

/** A usage error: the CLI prints it as one line and exits with status 2. */
export function usageError(message: string): HotpathError {
  return new HotpathError(ErrorCodes.USAGE, message);
}
