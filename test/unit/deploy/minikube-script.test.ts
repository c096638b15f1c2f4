import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// deploy/minikube/up.sh cannot run here (no cluster): its syntax, and that what it applies and
// builds exists, are what can be checked. Its overlay is rendered and validated in manifests.test.ts.

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const script = `${repo}deploy/minikube/up.sh`;

describe('deploy/minikube/up.sh', () => {
  it('is an executable bash script that parses', () => {
    expect(statSync(script).mode & 0o111).not.toBe(0);
    const r = spawnSync('bash', ['-n', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('builds the Dockerfile into minikube and applies the minikube overlay with the tag it builds', () => {
    const text = readFileSync(script, 'utf8');
    expect(text).toContain('minikube "${profile_args[@]}" docker-env');
    expect(text).toContain('docker build "${build_args[@]}" -t sextant:dev "$repo"');
    expect(text).toContain('kubectl apply -k "$overlay"');
    expect(existsSync(`${repo}Dockerfile`)).toBe(true);
    expect(readFileSync(`${repo}deploy/kubernetes/overlays/minikube/kustomization.yaml`, 'utf8')).toMatch(/name: sextant\n\s+newTag: dev/);
  });
});
