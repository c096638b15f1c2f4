#!/usr/bin/env node
/**
 * The `sextant` command's entry point: bin/sextant (package.json `bin`) execs Node on it, and the
 * systemd unit and the image run it directly. It checks the runtime before loading anything:
 * this file is plain enough to run on the older Node a machine may ship, and says what to do
 * instead of failing on a missing API deep inside the agent.
 */
const major = Number(process.versions.node.split('.')[0]);

if (major < 22) {
  process.stderr.write(
    `sextant: needs Node.js 22.12 or later, this is ${process.version} (bin/sextant, npm start and npx sextant use the project's Node 24)\n`,
  );
  process.exitCode = 1;
} else {
  // `sextant check | head` closes stdout early; that is not a crash.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  const { main } = await import('./main.js');
  const command = process.argv[2];
  // The agent runs with V8's heap limits from its memory limit (src/cli/relaunch.ts).
  // The gateway, with V8's old-space floor (src/self/gateway-heap.ts).
  const relaunch = command === 'agent' || command === 'gateway' ? await import('./relaunch.js') : undefined;
  const code = await main(
    process.argv.slice(2),
    relaunch === undefined
      ? {}
      : {
          beforeAgent: (loaded) => relaunch.relaunchWithMemoryLimits(loaded, process.stderr),
          beforeGateway: (loaded) => relaunch.relaunchWithHeapFloor(loaded, process.stderr),
        },
  );
  process.exitCode = code;
  // The agent and the gateway have finished their own shutdown when main resolves; exit rather
  // than wait for an empty event loop, which a statfs stuck on a dead NFS server (a thread-pool
  // request the kernel never completes) would hold open until SIGKILL. stdout and stderr are
  // synchronous for files, pipes and terminals on Linux, so nothing written is lost.
  if (command === 'agent' || command === 'gateway') process.exit(code);
}
