// Loaded with `node --import` into a real agent: records every module the process loads (ESM
// and CommonJS, through the synchronous module hooks) and its Node flags, and writes them as
// JSON to $SEXTANT_TEST_MODULES_OUT when the process exits. test/e2e/agent-memory.test.ts reads it.
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const seen = new Set();
registerHooks({
  load(url, context, next) {
    seen.add(url);
    return next(url, context);
  },
});
process.on('exit', () => {
  const out = process.env.SEXTANT_TEST_MODULES_OUT;
  if (out) writeFileSync(out, JSON.stringify({ execArgv: process.execArgv, urls: [...seen] }));
});
