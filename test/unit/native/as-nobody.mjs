// Run by permission.test.ts as an unprivileged user (setpriv to nobody): reads a root-owned
// process and a fixture tree with both /proc readers, straight from the TypeScript sources
// (Node 24 strips the types; the hook maps the sources' `./x.js` imports to `./x.ts`), and prints
// what it saw as JSON, undefined spelled out.
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, next) {
    try {
      return next(specifier, context);
    } catch (err) {
      if (specifier.startsWith('.') && specifier.endsWith('.js')) return next(`${specifier.slice(0, -3)}.ts`, context);
      throw err;
    }
  },
});

const [, , srcNative, livePid, fixtureRoot] = process.argv;
const { loadProcReader, JsProcReader, createProcessTable } = await import(`${srcNative}/index.ts`);
const quiet = { info() {} };
const readers = [new JsProcReader(), loadProcReader({ native: true, logger: quiet })];
const out = { uid: process.getuid(), readers: {} };
for (const r of readers) {
  const table = createProcessTable(16);
  const total = r.scanProcesses(fixtureRoot, table);
  out.readers[r.implementation] = {
    live: r.readProcessDetails('/proc', Number(livePid), 4096),
    fixture: r.readProcessDetails(fixtureRoot, 300, 4096),
    scan: { total, malformed: r.malformed, pids: Array.from(table.pid.subarray(0, table.count)) },
  };
}
process.stdout.write(JSON.stringify(out, (_k, v) => (v === undefined ? '<undefined>' : v)));
