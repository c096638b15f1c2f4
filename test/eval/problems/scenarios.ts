import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { sleep, type ProblemsRun } from './harness.js';

/**
 * The faults, one per fresh run: each starts what it needs and says when the fault began and
 * which entity is its cause. Scripts are busybox sh.
 */

const MiB = 1024 * 1024;

export interface Injected {
  /** When the fault began (ms). */
  readonly injectAt: number;
  /** The entity the root cause should be. */
  readonly expected: { readonly type: string; readonly names: readonly string[] };
}

export interface Scenario {
  readonly name: string;
  readonly what: string;
  /** Done before the agent starts (a mount the host source must list). */
  readonly before?: (run: ProblemsRun) => Promise<void> | void;
  readonly inject: (run: ProblemsRun) => Promise<Injected>;
}

/** A busy loop per core asked for. */
const burn = (n: number): string => Array.from({ length: n }, () => '(while :; do :; done) &').join(' ') + ' wait';

export const FAULTS: readonly Scenario[] = [
  {
    name: 'crashloop',
    what: 'a Docker container that exits 1 every 2 s under restart policy always',
    inject: async (run) => {
      const at = await run.dockerRun('crash', 'echo starting; sleep 2; echo "fatal: config missing" >&2; exit 1', { RestartPolicy: { Name: 'always' } });
      return { injectAt: at, expected: { type: 'container', names: [`${run.tag}-crash`] } };
    },
  },
  {
    name: 'oom',
    what: 'a memory hog (dd with a 64 MiB buffer) in a Docker container limited to 32 MiB',
    inject: async (run) => {
      const at = await run.dockerRun('oom', 'sleep 3; dd if=/dev/zero of=/dev/null bs=64M count=1; exec sleep 3600', { Memory: 32 * MiB, MemorySwap: 32 * MiB });
      return { injectAt: at + 3_000, expected: { type: 'container', names: [`${run.tag}-oom`] } };
    },
  },
  {
    name: 'throttling',
    what: 'a busy loop in a CRI container with a CPU quota of 0.2 cores',
    inject: async (run) => {
      const name = `${run.tag}-burn`;
      const at = Date.now();
      const pod = await run.pods.runPod({ name: `${run.tag}-throttle`, namespace: 'eval', uid: randomUUID(), containers: [{ name, command: ['sh', '-c', burn(1)], cpuQuota: 20_000, cpuPeriod: 100_000 }] });
      run.podIds.push(pod.podId);
      return { injectAt: at, expected: { type: 'container', names: [name] } };
    },
  },
  {
    name: 'neighbour',
    what: 'two light Docker workloads; after 80 s a third container starts eating both cores (no limit)',
    inject: async (run) => {
      const light = 'while :; do i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; sleep 0.5; done';
      await run.dockerRun('victim1', light);
      await run.dockerRun('victim2', light);
      const at = await run.dockerRun('neighbour', `sleep 80; ${burn(2)}`);
      return { injectAt: at + 80_000, expected: { type: 'container', names: [`${run.tag}-neighbour`] } };
    },
  },
  {
    name: 'filesystem',
    what: 'a Docker container writing 2 MiB/s into a 64 MiB tmpfs mounted on the host',
    before: (run) => {
      const dir = `/tmp/${run.tag}-fs`;
      mkdirSync(dir, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', dir]);
      run.cleanups.push(() => {
        try {
          execFileSync('umount', ['-l', dir]);
        } catch {
          // Already gone.
        }
        rmSync(dir, { recursive: true, force: true });
      });
    },
    inject: async (run) => {
      const dir = `/tmp/${run.tag}-fs`;
      const at = await run.dockerRun('fill', 'sleep 10; i=0; while :; do dd if=/dev/zero of=/fill/f$i bs=1M count=2 2>/dev/null; i=$((i+1)); sleep 1; done', { Binds: [`${dir}:/fill`] });
      // The host entity is named after the node once pod records have named it, else the host name.
      return { injectAt: at + 10_000, expected: { type: 'host', names: [run.hostName, run.node] } };
    },
  },
  {
    name: 'errorlogs',
    what: 'a Docker container logging INFO 5/s for 75 s, then ERROR 20/s',
    inject: async (run) => {
      const script =
        'i=0; end=$(( $(date +%s) + 75 )); while [ $(date +%s) -lt $end ]; do echo "INFO request $i ok"; i=$((i+1)); usleep 200000; done; ' +
        'while :; do echo "ERROR payment failed for order $i: upstream refused"; i=$((i+1)); usleep 50000; done';
      const at = await run.dockerRun('errors', script);
      return { injectAt: at + 75_000, expected: { type: 'container', names: [`${run.tag}-errors`] } };
    },
  },
];

/**
 * Normal churn without a fault: containers started and stopped (docker stop), short jobs that
 * exit 0, a steady logger with a WARN now and then, a CRI pod made and removed, for `durationMs`.
 */
export async function churn(run: ProblemsRun, durationMs: number): Promise<void> {
  await run.dockerRun('steady', 'i=0; while :; do if [ $((i % 20)) -eq 19 ]; then echo "WARN slow request $i"; else echo "INFO request $i ok"; fi; i=$((i+1)); usleep 250000; done');
  await run.dockerRun('worker', 'while :; do i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; sleep 1; done');
  const end = Date.now() + durationMs;
  let n = 0;
  const live: string[] = [];
  while (Date.now() < end) {
    n++;
    const name = `churn${n}`;
    if (n % 3 === 0) {
      await run.dockerRun(name, 'echo job start; sleep 3; echo job done; exit 0');
    } else if (n % 5 === 0) {
      const pod = await run.pods.runPod({ name: `${run.tag}-pod${n}`, namespace: 'eval', uid: randomUUID(), containers: [{ name: `${run.tag}-c${n}`, command: ['sh', '-c', 'echo up; sleep 3600'] }] });
      setTimeout(() => void run.pods.removePod(pod.podId).catch(() => undefined), 20_000).unref();
    } else {
      await run.dockerRun(name, 'echo up; sleep 3600');
      live.push(name);
    }
    // Stop the oldest long-running one now and then.
    if (live.length > 3) {
      const old = live.shift()!;
      await run.dockerStop(old);
      await run.dockerRemove(old);
    }
    await sleep(8_000);
  }
}
