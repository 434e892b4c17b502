// The catalogue of hotpath's errors. Every error has a stable `code`; messages name the step that failed.
// exporters/ and flamegraph/ may not import this file: they declare their own codes and error classes
// (ExporterError, FlamegraphError) in their errors.ts, and the catalogue lists those codes from there, so
// every code a user can see is listed here once.
import { ExporterErrorCodes } from '../exporters/errors.js';
import { FlamegraphErrorCodes } from '../flamegraph/errors.js';

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
  /** A bad HTTP request to the agent (query string, body); answered with a 4xx. */
  QUERY: 'HP_ERR_QUERY',
  /** A BPF object or a source was used after close() (shutdown raced a drain). */
  CLOSED: 'HP_ERR_CLOSED',
  // Declared in exporters/errors.ts (thrown as ExporterError, or HotpathError by the collector).
  /** A bad input file (profile, ELF, folded stacks). */
  INPUT: ExporterErrorCodes.INPUT,
  /** A caller's option an exporter refuses, such as a histogram bucket layout out of range. */
  OPTION: ExporterErrorCodes.OPTION,
  /** A metric or series left out of one collect; reported with the scrape, not thrown. */
  METRICS_COLLECT: ExporterErrorCodes.METRICS_COLLECT,
  // Declared in flamegraph/errors.ts (thrown as FlamegraphError; the CLI answers them as usage errors).
  /** The sample type asked for (`--sample-type`) is not in the profile. */
  FLAMEGRAPH_UNKNOWN_SAMPLE_TYPE: FlamegraphErrorCodes.UNKNOWN_SAMPLE_TYPE,
  /** The value index asked for is not an index of the profile's sample types. */
  FLAMEGRAPH_BAD_VALUE_INDEX: FlamegraphErrorCodes.BAD_VALUE_INDEX,
  /** The profile declares no sample types. */
  FLAMEGRAPH_NO_SAMPLE_TYPES: FlamegraphErrorCodes.NO_SAMPLE_TYPES,
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
