import { describe, expect, it } from 'vitest';
import { parseCgroupPath } from '../../../../../src/sources/lib/cgroup/cgroup-path.js';

const ID = 'e883135d2bd464bb0572ed18228d58342c480b57bc0c5795cee88107c3d0d635';
const NODE = 'a'.repeat(64);
const POD = '0f6b3c57-1c1d-4a52-9c53-6f0bd0a7f1e2';
const POD_ = POD.replaceAll('-', '_');
const STATIC_POD = '6a2ac2e8a1f0b1c7a7b5c3f8f1ba1234';

describe('parseCgroupPath: formats', () => {
  it.each([
    ['docker, cgroupfs driver', `/docker/${ID}`, { containerId: ID, runtime: 'docker' }],
    ['docker, systemd driver', `/system.slice/docker-${ID}.scope`, { containerId: ID, runtime: 'docker' }],
    ['containerd namespace', `/k8s.io/${ID}`, { containerId: ID, runtime: 'containerd' }],
    ['kubepods cgroupfs, burstable', `/kubepods/burstable/pod${POD}/${ID}`, { containerId: ID, podUid: POD, qosClass: 'burstable' }],
    ['kubepods cgroupfs, besteffort', `/kubepods/besteffort/pod${POD}/${ID}`, { containerId: ID, podUid: POD, qosClass: 'besteffort' }],
    ['kubepods cgroupfs, guaranteed (no QoS level)', `/kubepods/pod${POD}/${ID}`, { containerId: ID, podUid: POD, qosClass: 'guaranteed' }],
    ['kubepods cgroupfs, CRI-O', `/kubepods/burstable/pod${POD}/crio-${ID}`, { containerId: ID, podUid: POD, qosClass: 'burstable', runtime: 'cri-o' }],
    [
      'kubepods systemd, containerd, burstable',
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD_}.slice/cri-containerd-${ID}.scope`,
      { containerId: ID, podUid: POD, qosClass: 'burstable', runtime: 'containerd' },
    ],
    [
      'kubepods systemd, containerd, besteffort',
      `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD_}.slice/cri-containerd-${ID}.scope`,
      { containerId: ID, podUid: POD, qosClass: 'besteffort', runtime: 'containerd' },
    ],
    [
      'kubepods systemd, containerd, guaranteed',
      `/kubepods.slice/kubepods-pod${POD_}.slice/cri-containerd-${ID}.scope`,
      { containerId: ID, podUid: POD, qosClass: 'guaranteed', runtime: 'containerd' },
    ],
    [
      'kubepods systemd, CRI-O',
      `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD_}.slice/crio-${ID}.scope`,
      { containerId: ID, podUid: POD, qosClass: 'besteffort', runtime: 'cri-o' },
    ],
    [
      'kubepods systemd, docker (cri-dockerd)',
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD_}.slice/docker-${ID}.scope`,
      { containerId: ID, podUid: POD, qosClass: 'burstable', runtime: 'docker' },
    ],
    [
      'static pod (32-hex uid), systemd',
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${STATIC_POD}.slice/cri-containerd-${ID}.scope`,
      { containerId: ID, podUid: STATIC_POD, qosClass: 'burstable', runtime: 'containerd' },
    ],
    ['static pod (32-hex uid), cgroupfs', `/kubepods/pod${STATIC_POD}/${ID}`, { containerId: ID, podUid: STATIC_POD, qosClass: 'guaranteed' }],
    ['podman: an id, no runtime named', `/machine.slice/libpod-${ID}.scope`, { containerId: ID }],
    ['a nested cgroup inside the container', `/system.slice/docker-${ID}.scope/init.scope`, { containerId: ID, runtime: 'docker' }],
    [
      'a nested cgroup inside a pod container',
      `/kubepods.slice/kubepods-pod${POD_}.slice/cri-containerd-${ID}.scope/app`,
      { containerId: ID, podUid: POD, qosClass: 'guaranteed', runtime: 'containerd' },
    ],
    ['kubepods inside a node container (minikube docker driver)', `/docker/${NODE}/kubepods/besteffort/pod${POD}/${ID}`, { containerId: ID, podUid: POD, qosClass: 'besteffort' }],
    ['a trailing slash', `/docker/${ID}/`, { containerId: ID, runtime: 'docker' }],
    ['the pod cgroup itself, systemd', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD_}.slice`, { podUid: POD, qosClass: 'burstable' }],
    ['the pod cgroup itself, cgroupfs', `/kubepods/pod${POD}`, { podUid: POD, qosClass: 'guaranteed' }],
    ['CRI-O’s conmon: the pod’s, not a container', `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD_}.slice/crio-conmon-${ID}.scope`, { podUid: POD, qosClass: 'besteffort' }],
  ])('%s', (_, path, want) => {
    expect(parseCgroupPath(path)).toStrictEqual(want);
  });
});

describe('parseCgroupPath: no identity', () => {
  it.each([
    ['root', '/'],
    ['init.scope', '/init.scope'],
    ['a service', '/system.slice/workload.scope'],
    ['docker daemon', '/system.slice/docker.service'],
    ['a user session', '/user.slice/user-1000.slice/session-3.scope'],
    ['a user service', '/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-1234.scope'],
    ['the kubepods QoS slice', '/kubepods.slice/kubepods-burstable.slice'],
    ['the kubepods root', '/kubepods'],
    ['conmon outside a pod', `/machine.slice/libpod-conmon-${ID}.scope`],
    ['63 hex', `/docker/${ID.slice(1)}`],
    ['65 hex', `/docker/${ID}0`],
    ['upper-case hex', `/docker/${ID.toUpperCase()}`],
    ['`<id>.scope` without a prefix', `/system.slice/${ID}.scope`],
    ['a prefix with upper case', `/system.slice/Docker-${ID}.scope`],
    ['an id deeper than the last three segments', `/docker/${ID}/a/b/c`],
    ['relative', `docker/${ID}`],
    ['pod uid with a bad character', `/kubepods/pod${POD.replace('a', 'g')}`],
    ['pod uid with dashes in a systemd slice', `/kubepods.slice/kubepods-pod${POD}.slice`],
    ['pod uid with underscores in cgroupfs', `/kubepods/pod${POD_}`],
    ['pod outside kubepods', `/other/pod${POD}`],
    ['pod under an unknown QoS', `/kubepods/gold/pod${POD}`],
    ['QoS not under kubepods', `/elsewhere/burstable/pod${POD}`],
    ['systemd pod slice with an unknown QoS', `/kubepods.slice/kubepods-gold-pod${POD_}.slice`],
    ['empty', ''],
    ['undefined', undefined],
  ])('%s', (_, path) => {
    expect(parseCgroupPath(path)).toBeUndefined();
  });

  it('a pod path whose container segment is not an id still gives the pod', () => {
    expect(parseCgroupPath(`/kubepods/pod${POD}/not-a-container`)).toStrictEqual({ podUid: POD, qosClass: 'guaranteed' });
    expect(parseCgroupPath(`/kubepods/burstable/pod${POD}/${ID}`)?.containerId).toBe(ID);
  });

  it('survives junk: 10 kB paths, invalid UTF-8, random bytes, truncation at every length', () => {
    expect(parseCgroupPath('/' + 'a/'.repeat(5000) + `docker/${ID}`)).toBeUndefined(); // over PATH_MAX
    expect(parseCgroupPath(`/docker/${ID}`.padStart(10_000, '/'))).toBeUndefined();
    // Invalid UTF-8 decodes to U+FFFD: never an id.
    const bad = Buffer.concat([Buffer.from('/docker/'), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from(ID.slice(4))]).toString('utf8');
    expect(parseCgroupPath(bad)).toBeUndefined();
    expect(parseCgroupPath(`/docker/${ID.slice(0, 63)}\uFFFD`)).toBeUndefined();
    let seed = 42;
    for (let n = 0; n < 200; n++) {
      const bytes = Buffer.alloc(1 + (n % 150));
      for (let i = 0; i < bytes.length; i++) bytes[i] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
      bytes[0] = 0x2f;
      expect(() => parseCgroupPath(bytes.toString('utf8'))).not.toThrow();
    }
    const full = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD_}.slice/cri-containerd-${ID}.scope`;
    for (let i = 0; i <= full.length; i++) {
      const got = parseCgroupPath(full.slice(0, i));
      // A cut path never claims a container id it does not hold in full.
      if (got?.containerId !== undefined) expect(got.containerId).toBe(ID);
    }
    expect(parseCgroupPath(full.slice(0, full.length - 6))?.containerId).toBe(ID); // `.scope` cut: the crio-less `<prefix>-<id>` form
    expect(parseCgroupPath(full.slice(0, full.length - 7))?.containerId).toBeUndefined(); // id cut
  });

  it('gives the same answer on repeated calls (no state kept between calls)', () => {
    const a = `/kubepods/burstable/pod${POD}/${ID}`;
    const b = `/system.slice/docker-${ID}.scope`;
    expect(parseCgroupPath(a)).toStrictEqual(parseCgroupPath(a));
    parseCgroupPath(b);
    expect(parseCgroupPath(a)).toStrictEqual({ containerId: ID, podUid: POD, qosClass: 'burstable' });
  });
});
