import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { storedRequests } from './helpers/gateway-store.js';
import { BIN, SextantProcess } from './helpers/sextant-process.js';

/**
 * What a process supervisor does: start the command README.md shows for it, hold that PID, send
 * it SIGTERM, wait for it. The agent must be that PID (not npm or a shell above it), flush, exit
 * 0, and leave no process of its own behind.
 */

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const README_MARKER = '<!-- test/e2e/launcher-sigterm.test.ts runs the first line of the next block';
const TOKEN = 'dt0c01.LAUNCHER.abcdefghijklmnopqrstuvwxyz0123456789';

/** The first line of the code block after README's marker, without its trailing comment. */
function readmeCommand(): string {
  const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const at = readme.indexOf(README_MARKER);
  if (at < 0) throw new Error('README.md lost the marker before the supervisor command');
  const block = /```sh\n([^\n]*)\n/.exec(readme.slice(at));
  if (block === null) throw new Error('no ```sh block after the marker in README.md');
  return block[1]!.replace(/#.*$/, '').trim();
}

/** Processes whose process group or session is `id` (/proc/<pid>/stat: … ) state ppid pgrp session …). */
function processesOfGroup(id: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while listed
    }
    const [, , pgrp, session] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === id || Number(session) === id) found.push(Number(entry));
  }
  return found;
}

function logLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function until<T>(probe: () => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const dirs: string[] = [];
const gateways: SextantProcess[] = [];
let supervised: ChildProcess | undefined;
afterEach(async () => {
  // The test's own process group, by its id: whatever a failed run left of it.
  if (supervised?.pid !== undefined && processesOfGroup(supervised.pid).length > 0) process.kill(-supervised.pid, 'SIGKILL');
  supervised = undefined;
  for (const g of gateways.splice(0)) {
    g.kill('SIGKILL');
    await g.exited;
  }
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error('dist/ is missing: run `npm run build` (npm test does)');
});

describe('the supervisor-safe command in README.md', () => {
  it('is bin/sextant agent: SIGTERM to the PID started stops the agent itself, it flushes, exits 0, and leaves no process', async () => {
    const command = readmeCommand();
    // Plain words only, so splitting on spaces gives exactly the argv a supervisor would exec.
    expect(command).toMatch(/^bin\/sextant agent( [\w-]+)*$/);
    const [file, ...args] = command.split(' ');

    const cwd = await mkdtemp(path.join(os.tmpdir(), 'sextant-launcher-'));
    dirs.push(cwd);
    const gw = new SextantProcess(['gateway'], {
      cwd,
      // NDJSON beside the embedded store: the test reads what arrived from the files.
      env: { SEXTANT_GATEWAY_LISTEN: '127.0.0.1:0', SEXTANT_LISTEN: '127.0.0.1:0', SEXTANT_GATEWAY_TOKENS: TOKEN, SEXTANT_GATEWAY_DATA_DIR: path.join(cwd, 'gw'), SEXTANT_GATEWAY_NDJSON: 'true' },
    });
    gateways.push(gw);
    const url = String((await gw.waitForLog('gateway started'))['url']);

    // PATH without node_modules/.bin: the launcher has to find the package's Node on its own.
    const pathWithoutBins = (process.env.PATH ?? '/usr/bin:/bin')
      .split(':')
      .filter((p) => !p.includes('node_modules/.bin'))
      .join(':');
    // detached: a session and process group of its own, whose id is the PID, so what is left
    // of it afterwards is found by id and not by a name other tests' processes share.
    const child = spawn(file!, args, {
      cwd: REPO,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: pathWithoutBins,
        HOME: cwd,
        SEXTANT_ENDPOINT: url,
        SEXTANT_API_TOKEN: TOKEN,
        SEXTANT_MODE: 'host',
        SEXTANT_INTERVAL: '500ms',
        SEXTANT_LISTEN: '127.0.0.1:0',
        SEXTANT_STATE_DIR: path.join(cwd, 'state'),
      },
    });
    supervised = child;
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout!.resume();
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const pid = child.pid!;

    await until(() => child.exitCode === null && logLines(stderr).some((l) => l['msg'] === 'agent started'), 20_000, `agent started (stderr: ${stderr})`);
    // The PID the supervisor holds is Node running the agent: the launcher exec'd, no shell left.
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline.some((a) => a.endsWith('dist/cli/sextant.js'))).toBe(true);
    expect(path.basename(readlinkSync(`/proc/${pid}/exe`))).toBe('node');
    const ownNode = path.join(REPO, 'node_modules/.bin/node');
    if (existsSync(ownNode)) expect(readlinkSync(`/proc/${pid}/exe`)).toBe(realpathSync(ownNode));
    await until(() => storedRequests(path.join(cwd, 'gw'), 'metrics').length > 0, 20_000, 'a metrics export at the gateway');

    process.kill(pid, 'SIGTERM');
    const { code, signal } = await exited;
    expect({ code, signal }, stderr).toEqual({ code: 0, signal: null });
    expect(logLines(stderr).map((l) => l['msg'])).toContain('stopped: everything queued was exported');
    expect(processesOfGroup(pid)).toEqual([]);
    expect(stderr).not.toContain('LAUNCHER');
  }, 60_000);
});

describe('the other ways the agent is started hold the agent PID too', () => {
  it('package.json "bin" is the launcher, shipped in "files", and the launcher ends in exec', () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { bin: Record<string, string>; files: string[] };
    expect(pkg.bin['sextant']).toBe('bin/sextant');
    expect(pkg.files).toContain('bin/');
    const launcher = readFileSync(path.join(REPO, 'bin/sextant'), 'utf8').trimEnd().split('\n');
    expect(launcher[0]).toBe('#!/bin/sh');
    // $flags: V8's heap limits from the memory limit (`sextant agent` only; empty otherwise).
    expect(launcher.at(-1)).toBe('exec "$node" $flags "$root/dist/cli/sextant.js" "$@"');
  });

  it('the systemd unit execs Node on dist/cli/sextant.js, with no npm, npx or shell between', () => {
    const unit = readFileSync(path.join(REPO, 'deploy/systemd/sextant-agent.service'), 'utf8');
    const execStart = unit.split('\n').filter((l) => l.startsWith('ExecStart='));
    expect(execStart).toEqual(['ExecStart=/opt/sextant/bin/node /opt/sextant/app/dist/cli/sextant.js agent']);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
  });

  it('the image starts in exec form: the capability launcher execv()s Node on dist/cli/sextant.js', () => {
    const dockerfile = readFileSync(path.join(REPO, 'Dockerfile'), 'utf8');
    // Shell form (ENTRYPOINT cmd args) would put /bin/sh -c above the agent as PID 1.
    const entrypoint = dockerfile.split('\n').filter((l) => l.startsWith('ENTRYPOINT'));
    expect(entrypoint).toEqual(['ENTRYPOINT ["/usr/local/bin/sextant-cap-launcher", "/usr/local/bin/node", "/app/dist/cli/sextant.js"]']);
    expect(readFileSync(path.join(REPO, 'deploy/image/cap-launcher.c'), 'utf8')).toMatch(/execv\(argv\[1\], argv \+ 1\)/);
  });
});
