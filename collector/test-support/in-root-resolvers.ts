// Tests that open files of processes run under both resolvers of openInRoot: the kernel's openat2 and the
// user-space walk used where openat2 is missing (collector/bpf/open-in-root.ts).
import { afterAll, beforeAll, expect } from 'vitest';
import { forceInRootResolver, inRootResolver, type InRootResolver } from '../bpf/open-in-root.js';

export const IN_ROOT_RESOLVERS: InRootResolver[] = ['openat2', 'user-space'];

/** Registers hooks so that the enclosing describe's tests open process files by `resolver`. */
export function useInRootResolver(resolver: InRootResolver): void {
  beforeAll(() => {
    forceInRootResolver(resolver);
    expect(inRootResolver()).toBe(resolver);
  });
  afterAll(() => forceInRootResolver(null));
}
