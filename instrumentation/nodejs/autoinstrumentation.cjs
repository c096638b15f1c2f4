'use strict';
// The entry the webhook puts in NODE_OPTIONS (`--require <bundle>/autoinstrumentation.cjs`).
//
// `--require` alone instruments CommonJS only: an ES module's `import` never goes through
// require(), so its packages are never patched. Where Node has module.register (>= 18.19 and
// 20.6), this first registers import-in-the-middle's loader hook, the one
// @opentelemetry/instrumentation ships, so ESM imports are instrumented too; then it starts the
// SDK exactly as `@opentelemetry/auto-instrumentations-node/register` does (configured by the
// OTEL_* variables the webhook sets). Both resolve inside this bundle's own node_modules.
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const nodeModule = require('node:module');

if (typeof nodeModule.register === 'function') {
  try {
    // Without import-in-the-middle's message channel: the hook then wraps every ES module,
    // which costs a little at import time and always sees the modules the SDK patches later.
    // (With the channel, Node 24 exited 1 before the application started: measured.)
    nodeModule.register('@opentelemetry/instrumentation/hook.mjs', pathToFileURL(path.join(__dirname, 'autoinstrumentation.cjs')));
  } catch (err) {
    process.emitWarning(`sextant instrumentation: ES module hook not registered (${err && err.message}); CommonJS is still instrumented`);
  }
}

require('@opentelemetry/auto-instrumentations-node/register');
