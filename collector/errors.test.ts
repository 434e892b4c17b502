import { describe, expect, test } from 'vitest';
import { ExporterErrorCodes } from '../exporters/errors.js';
import { FlamegraphErrorCodes } from '../flamegraph/errors.js';
import { ErrorCodes } from './errors.js';

describe('ErrorCodes', () => {
  test('lists every code exporters/ and flamegraph/ declare, and each code once', () => {
    const listed = Object.values(ErrorCodes);
    for (const code of [...Object.values(ExporterErrorCodes), ...Object.values(FlamegraphErrorCodes)]) {
      expect(listed).toContain(code);
    }
    expect(new Set(listed).size).toBe(listed.length);
  });
});
