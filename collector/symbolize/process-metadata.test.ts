import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCgroupIdentity, processLabels, readProcessMetadata } from './process-metadata.js';

const ID = '9a3f1c2b7d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8';
const UID = '3f0c2d55-6f1e-4c1e-9a53-2b1d0c3e4f5a';

describe('parseCgroupIdentity', () => {
  it('reads docker on cgroup v1 (cgroupfs driver)', () => {
    const text = [
      `12:hugetlb:/docker/${ID}`,
      `11:memory:/docker/${ID}`,
      `2:cpu,cpuacct:/docker/${ID}`,
      `1:name=systemd:/docker/${ID}`,
      '0::/system.slice/containerd.service',
    ].join('\n');
    expect(parseCgroupIdentity(text)).toEqual({ containerId: ID });
  });

  it('reads docker on cgroup v2 with the systemd driver', () => {
    expect(parseCgroupIdentity(`0::/system.slice/docker-${ID}.scope\n`)).toEqual({ containerId: ID });
  });

  it('reads Kubernetes pods: containerd, cri-o, cgroupfs and systemd drivers, v1 and v2', () => {
    const under = UID.replace(/-/g, '_');
    expect(parseCgroupIdentity(`0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${under}.slice/cri-containerd-${ID}.scope\n`)).toEqual({
      containerId: ID,
      podUid: UID,
    });
    expect(parseCgroupIdentity(`0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${under}.slice/crio-${ID}.scope\n`)).toEqual({
      containerId: ID,
      podUid: UID,
    });
    expect(parseCgroupIdentity(`0::/kubepods.slice/kubepods-pod${under}.slice/crio-${ID}.scope\n`)).toEqual({ containerId: ID, podUid: UID });
    const v1 = [`11:memory:/kubepods/burstable/pod${UID}/${ID}`, `4:pids:/kubepods/burstable/pod${UID}/${ID}`, `1:name=systemd:/kubepods/burstable/pod${UID}/${ID}`].join('\n');
    expect(parseCgroupIdentity(v1)).toEqual({ containerId: ID, podUid: UID });
    // The pod sandbox-level cgroup names the pod but no container.
    expect(parseCgroupIdentity(`0::/kubepods/besteffort/pod${UID}\n`)).toEqual({ podUid: UID });
  });

  it('finds nothing on a host process or on garbage, and ignores the cri-o monitor scope', () => {
    expect(parseCgroupIdentity('0::/user.slice/user-0.slice/session-3.scope\n')).toEqual({});
    expect(parseCgroupIdentity('4:memory:/process_api/0de33a0b8ae99f05162ead57aa2123d8\n0::/\n')).toEqual({});
    expect(parseCgroupIdentity(`0::/machine.slice/crio-conmon-${ID}.scope\n`)).toEqual({});
    expect(parseCgroupIdentity('')).toEqual({});
    expect(parseCgroupIdentity('\0\0:::\n::\nnot a line')).toEqual({});
    expect(parseCgroupIdentity(`0::/docker/${ID.slice(1)}\n`)).toEqual({});
  });
});

describe('readProcessMetadata', () => {
  it('names a live process from /proc and reports a gone one as undefined', async () => {
    const child = spawn('/bin/sleep', ['5']);
    try {
      await new Promise((r) => setTimeout(r, 100));
      const meta = readProcessMetadata(child.pid!);
      expect(meta?.process).toBe('sleep');
      const own = fs.readFileSync(`/proc/${child.pid}/cgroup`, 'utf8');
      expect(meta).toEqual({ process: 'sleep', ...parseCgroupIdentity(own) });
    } finally {
      child.kill('SIGKILL');
    }
    expect(readProcessMetadata(0x3fffffff)).toBeUndefined();
  });

  it('turns metadata into labels with only the known fields', () => {
    expect(processLabels({ process: 'nginx', containerId: ID, podUid: UID })).toEqual({ process: 'nginx', container_id: ID, pod_uid: UID });
    expect(processLabels({ process: 'bash' })).toEqual({ process: 'bash' });
    expect(processLabels(undefined)).toEqual({});
  });
});
