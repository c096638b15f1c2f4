import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseContainerLinkLogPath, parseDockerLogPath, parseLogPath, parsePodLogPath } from '../../../../src/sources/logs/log-path.js';

const ID = 'a3f1c2d4e5b6978812345678909abcdefa3f1c2d4e5b6978812345678909abcd';
const UID = '0d4c7e0e-6bfb-4d0b-9a6e-3b2a1d5c9f10';

describe('parseLogPath', () => {
  it('reads kubelet pod log paths, rotated and gzipped ones too', () => {
    const base = `/var/log/pods/kube-system_coredns-5d78c9869d-x7k2p_${UID}/coredns`;
    expect(parseLogPath(`${base}/0.log`)).toEqual({
      kind: 'pod',
      namespace: 'kube-system',
      podName: 'coredns-5d78c9869d-x7k2p',
      podUid: UID,
      containerName: 'coredns',
      restartCount: 0,
      rotated: false,
      compressed: false,
    });
    expect(parsePodLogPath(`/host${base}/12.log.20261125-101651`)).toMatchObject({ restartCount: 12, rotated: true, compressed: false });
    expect(parsePodLogPath(`/host${base}/3.log.20261125-101651.gz`)).toMatchObject({ restartCount: 3, rotated: true, compressed: true });
    // A static pod: the uid is the config hash; a pod name with dots.
    expect(parsePodLogPath('/var/log/pods/kube-system_etcd-node.example.com_6b7c8d9e0f1a2b3c4d5e6f708192a3b4/etcd/0.log')).toMatchObject({
      podName: 'etcd-node.example.com',
      podUid: '6b7c8d9e0f1a2b3c4d5e6f708192a3b4',
    });
  });

  it('reads /var/log/containers links', () => {
    expect(parseLogPath(`/var/log/containers/web-7c9d8-abcde_default_nginx-proxy-${ID}.log`)).toEqual({
      kind: 'container-link',
      podName: 'web-7c9d8-abcde',
      namespace: 'default',
      containerName: 'nginx-proxy',
      containerId: ID,
    });
    expect(parseContainerLinkLogPath(`/host/var/log/containers/p_ns_c-${ID}.log`)).toMatchObject({ containerName: 'c' });
  });

  it('reads Docker json-file paths and their rotations', () => {
    expect(parseLogPath(`/var/lib/docker/containers/${ID}/${ID}-json.log`)).toEqual({ kind: 'docker', containerId: ID, rotation: 0 });
    expect(parseDockerLogPath(`/host/var/lib/docker/containers/${ID}/${ID}-json.log.3`)).toEqual({ kind: 'docker', containerId: ID, rotation: 3 });
  });

  it.each([
    '',
    '/',
    '0.log',
    'var/log/pods/ns_pod_uid/c/0.log',
    `/var/log/pods/ns_pod_${UID}/c/0.log.gz`,
    `/var/log/pods/ns_pod_${UID}/c/0.log.20261125-101651.gz.tmp`,
    `/var/log/pods/ns_pod_${UID}/c/01.log`,
    `/var/log/pods/ns_pod_${UID}/c/x.log`,
    `/var/log/pods/ns_pod_${UID}/C/0.log`,
    `/var/log/pods/ns_po_d_${UID}/c/0.log`,
    `/var/log/pods/Ns_pod_${UID}/c/0.log`,
    `/var/log/pods/ns_pod/c/0.log`,
    `/var/log/pods/ns_pod_${UID}/0.log`,
    `/var/log/pods/ns_pod_${UID}/c/d/0.log`,
    `/var/log/containers/pod_ns_c-${ID.toUpperCase()}.log`,
    `/var/log/containers/pod_ns_c-${ID.slice(1)}.log`,
    `/var/log/containers/pod_ns-${ID}.log`,
    `/var/log/containers/po_d_ns_c-${ID}.log`,
    `/var/lib/docker/containers/${ID}/${ID.replace('a', 'b')}-json.log`,
    `/var/lib/docker/containers/${ID}/${ID}-json.log.0`,
    `/var/lib/docker/containers/${ID}/${ID}.log`,
    `/var/lib/docker/containers/${ID}/config.v2.json`,
    '/etc/shadow',
  ])('%j is none of the shapes', (path) => {
    expect(parseLogPath(path)).toBeUndefined();
  });

  it('property: arbitrary strings never throw; round-trips for generated pod paths', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        parseLogPath(s);
        parseLogPath(`/var/log/pods/${s}`);
        parseLogPath(`/var/log/containers/${s}`);
      }),
      { numRuns: 3000 },
    );
    const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/);
    fc.assert(
      fc.property(label, label, label, fc.uuid(), fc.nat(1000), fc.stringMatching(/^\/[a-z]{0,8}$/), (ns, pod, c, uid, n, root) => {
        const r = parsePodLogPath(`${root === '/' ? '' : root}/var/log/pods/${ns}_${pod}_${uid}/${c}/${n}.log`);
        expect(r).toEqual({ kind: 'pod', namespace: ns, podName: pod, podUid: uid, containerName: c, restartCount: n, rotated: false, compressed: false });
      }),
      { numRuns: 1000 },
    );
  });
});
