// Child for the kill -9 test (run by node with type stripping and ts-resolve.mjs): opens the
// store in argv[2], resumes file "1:1" from its checkpoint, tracks records of 100 bytes each and
// acks them out of order, flushing often. Before an ack can raise the committed offset it prints
// "acked <offset>" (stdout on a pipe is synchronous on Linux), so the parent knows an upper bound.
import { CheckpointStore } from '../../../../src/sources/logs/checkpoint-store.js';
import { silentLogger } from '../../../../src/self/logger.js';

const store = new CheckpointStore({ dir: process.argv[2]!, logger: silentLogger(), intervalMs: 5 });
const loaded = await store.load();
const identity = { key: '1:1', headLength: 0, headHash: 'da39a3ee5e6b4b0d3255bfef95601890afd80709' };
const found = store.lookup(identity, Number.MAX_SAFE_INTEGER, Buffer.alloc(0));
const start = found.kind === 'resume' ? found.offset : 0;
process.stdout.write(`start ${loaded.source} ${start}\n`);
const fc = store.open(identity, '/var/log/x.log', start);
store.start();
let next = start;
for (;;) {
  const tokens: number[] = [];
  for (let i = 0; i < 16; i++) tokens.push(fc.track((next += 100)));
  tokens.reverse();
  process.stdout.write(`acked ${next}\n`);
  for (const t of tokens) fc.settle(t, true);
  await new Promise((r) => setTimeout(r, 1));
}
