// The pure part of the privilege drop: which capabilities stay, and reading them back from /proc.
import { describe, expect, it } from 'vitest';
import { bit, Cap, capabilityName, capabilityNames, parseStatusCapabilities, steadyStateCapabilities } from './privileges.js';

const ROOT = (1n << 41n) - 1n; // every capability up to CAP_CHECKPOINT_RESTORE (40)
const NONE = { bpfFdOpsNeedCapability: false, kallsymsNeedsSyslog: false, listenNeedsBindService: false };

describe('steadyStateCapabilities', () => {
  it('keeps ptrace, dac_read_search and checkpoint_restore on a kernel that needs nothing else', () => {
    expect(capabilityNames(steadyStateCapabilities(NONE, ROOT))).toEqual(['CAP_DAC_READ_SEARCH', 'CAP_SYS_PTRACE', 'CAP_CHECKPOINT_RESTORE']);
  });

  it('adds syslog, bpf and net_bind_service only when probed as needed', () => {
    const all = steadyStateCapabilities({ bpfFdOpsNeedCapability: true, kallsymsNeedsSyslog: true, listenNeedsBindService: true }, ROOT);
    expect(capabilityNames(all)).toEqual([
      'CAP_DAC_READ_SEARCH', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_PTRACE', 'CAP_SYSLOG', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
    ]);
  });

  it('never keeps perfmon, sys_admin, sys_resource, dac_override or setpcap', () => {
    const all = steadyStateCapabilities({ bpfFdOpsNeedCapability: true, kallsymsNeedsSyslog: true, listenNeedsBindService: true }, ROOT);
    for (const cap of [Cap.PERFMON, Cap.SYS_ADMIN, Cap.SYS_RESOURCE, Cap.DAC_OVERRIDE, Cap.SETPCAP]) expect(all & bit(cap)).toBe(0n);
  });

  it('never asks for what the process does not hold (a kernel before CAP_CHECKPOINT_RESTORE, a narrow unit)', () => {
    const before59 = ROOT & ~bit(Cap.CHECKPOINT_RESTORE);
    expect(capabilityNames(steadyStateCapabilities(NONE, before59))).toEqual(['CAP_DAC_READ_SEARCH', 'CAP_SYS_PTRACE']);
    const unit = bit(Cap.BPF) | bit(Cap.PERFMON) | bit(Cap.SYS_PTRACE);
    expect(capabilityNames(steadyStateCapabilities(NONE, unit))).toEqual(['CAP_SYS_PTRACE']);
  });
});

describe('capability names and /proc status', () => {
  it('names capabilities as the kernel headers do, and numbers it does not know', () => {
    expect(capabilityName(Cap.SYS_PTRACE)).toBe('CAP_SYS_PTRACE');
    expect(capabilityName(Cap.BPF)).toBe('CAP_BPF');
    expect(capabilityName(63)).toBe('CAP_63');
    expect(capabilityNames(0n)).toEqual([]);
    expect(capabilityNames(0x10400080004n)).toEqual(['CAP_DAC_READ_SEARCH', 'CAP_SYS_PTRACE', 'CAP_SYSLOG', 'CAP_CHECKPOINT_RESTORE']);
  });

  it('reads the sets and no_new_privs from /proc/<pid>/status text', () => {
    const status = [
      'Name:\tnode', 'Uid:\t0\t0\t0\t0', 'CapInh:\t0000000000000000', 'CapPrm:\t0000010400080004', 'CapEff:\t0000010400080004',
      'CapBnd:\t0000010400080004', 'CapAmb:\t0000000000000000', 'NoNewPrivs:\t1', 'Seccomp:\t0',
    ].join('\n');
    expect(parseStatusCapabilities(status)).toEqual({
      effective: 0x10400080004n, permitted: 0x10400080004n, bounding: 0x10400080004n, ambient: 0n, noNewPrivs: true,
    });
    expect(parseStatusCapabilities('CapEff:\t000001ffffffffff\nNoNewPrivs:\t0\n')).toMatchObject({ effective: (1n << 41n) - 1n, noNewPrivs: false });
  });
});
