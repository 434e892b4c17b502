import { describe, expect, it } from 'vitest';
import { ErrorCodes, HotpathError } from '../errors.js';
import type { BpfLink, BpfProgram } from './libbpf.js';
import { attachAll, loadTwins, type LoadedTwins } from './load-twins.js';

describe('attachAll', () => {
  it('names the program that failed and destroys the links already made', () => {
    const destroyed: string[] = [];
    const program = (name: string, fails: boolean) =>
      ({
        name,
        attach: (): BpfLink => {
          if (fails) throw new HotpathError(ErrorCodes.ATTACH, `attach program ${name}: No such file or directory (errno 2)`, 2);
          return { destroy: () => destroyed.push(name) } as unknown as BpfLink;
        },
      }) as unknown as BpfProgram;
    const loaded = { variant: 'tp_btf', programs: [program('a_btf', false), program('b_btf', true)] } as unknown as LoadedTwins;
    let err: unknown;
    try {
      attachAll('runqlat', loaded);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HotpathError);
    expect((err as HotpathError).code).toBe(ErrorCodes.ATTACH);
    expect((err as HotpathError).errno).toBe(2);
    expect((err as HotpathError).message).toMatch(/^attach runqlat tp_btf program b_btf: /);
    expect(destroyed).toEqual(['a_btf']);
  });
});

describe('loadTwins', () => {
  it('refuses a twin that is not in the object, closing it', () => {
    expect(() => loadTwins('runqlat', ['runqlat_nonexistent'], () => {})).toThrow(/find program runqlat_nonexistent_btf/);
  });
  it('loads the raw_tp set when asked', () => {
    const loaded = loadTwins('runqlat', ['runqlat_switch'], () => {}, 'raw_tp');
    try {
      expect(loaded.variant).toBe('raw_tp');
      expect(loaded.programs.map((p) => p.name)).toEqual(['runqlat_switch_raw']);
      expect(loaded.programs[0].fd).toBeGreaterThan(0);
    } finally {
      loaded.object.close();
    }
  });
});
