// The errors flamegraph/ throws. flamegraph/ depends on nothing of ours, so its codes are declared here and
// listed in the one catalogue, collector/errors.ts (ErrorCodes), which imports them. Bad data in a profile or
// in folded text is counted, never thrown: these are a caller's option errors.

export const FlamegraphErrorCodes = {
  /** The sample type asked for (`--sample-type`) is not in the profile. */
  UNKNOWN_SAMPLE_TYPE: 'FLAMEGRAPH_UNKNOWN_SAMPLE_TYPE',
  /** The value index asked for is not an index of the profile's sample types. */
  BAD_VALUE_INDEX: 'FLAMEGRAPH_BAD_VALUE_INDEX',
  /** The profile declares no sample types, so there is no value to draw. */
  NO_SAMPLE_TYPES: 'FLAMEGRAPH_NO_SAMPLE_TYPES',
} as const;

/** Stable error codes; callers (the CLI, the HTTP server) map them to exit statuses or 4xx answers. */
export type FlamegraphErrorCode = (typeof FlamegraphErrorCodes)[keyof typeof FlamegraphErrorCodes];

export class FlamegraphError extends Error {
  readonly code: FlamegraphErrorCode;

  constructor(code: FlamegraphErrorCode, message: string) {
    super(message);
    this.name = 'FlamegraphError';
    this.code = code;
  }
}
