// A container writing numbered log lines at a steady byte rate, with its log rotated the way
// kubelet rotates it (pkg/kubelet/logs/container_log_manager.go), or the way logrotate's
// copytruncate does. Run as its own process (`node kubelet-log-writer.mjs`) so the test's event
// loop never slows the writer; settings come from the environment:
//   WRITER_FILE        the live log file (`.../<container>/0.log`, or a plain file)
//   WRITER_FORMAT      cri (default) | plain
//   WRITER_RATE        bytes per second (default 1 MB/s)
//   WRITER_LINE_BYTES  bytes per line, newline included (default 200)
//   WRITER_ROTATE      kubelet | copytruncate | none
//   WRITER_MAX_SIZE    kubelet: rotate once the live file is past this (default 10 MiB)
//   WRITER_MAX_FILES   kubelet: files kept, the live one included (default 5)
//   WRITER_CHECK_MS    how often the size is checked (kubelet: 10 s; default 1 s)
//   WRITER_CUT_MS      copytruncate: copy and truncate this often (default 3 s)
// kubelet's rotation, each check: remove leftover *.tmp; remove the oldest rotated files beyond
// MaxFiles-2; gzip every rotated file but the newest (write <f>.gz.tmp, rename to <f>.gz, remove
// <f>); then rename the live file to <f>.<YYYYMMDD-HHMMSS> and reopen the path (the runtime's
// ReopenContainerLog). Lines written by the old descriptor before the reopen land in the
// rotated file, as with containerd.
// stdout: one JSON line per event ({"rotated": ...}, {"cut": {"at": ms, "firstLost": n, ...}})
// and, on SIGTERM, {"done": {"written": n}}; line n was written at `WRITER_T0 + n / lines per s`
// (the writer keeps the rate exactly, so a line's write time is known from its number).
import { closeSync, copyFileSync, createReadStream, createWriteStream, existsSync, ftruncateSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

const file = process.env.WRITER_FILE;
if (!file) throw new Error('WRITER_FILE is required');
const format = process.env.WRITER_FORMAT ?? 'cri';
const rate = Number(process.env.WRITER_RATE ?? 1_000_000);
const lineBytes = Number(process.env.WRITER_LINE_BYTES ?? 200);
const mode = process.env.WRITER_ROTATE ?? 'kubelet';
const maxSize = Number(process.env.WRITER_MAX_SIZE ?? 10 * 1024 * 1024);
const maxFiles = Number(process.env.WRITER_MAX_FILES ?? 5);
const checkMs = Number(process.env.WRITER_CHECK_MS ?? 1000);
const cutMs = Number(process.env.WRITER_CUT_MS ?? 3000);
const linesPerSec = rate / lineBytes;

const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

/** The time now as containerd writes it (RFC 3339, nanoseconds: the millisecond, then the line number's digits). */
function stamp9() {
  const iso = new Date().toISOString(); // 2026-11-25T12:00:00.123Z
  return iso.slice(0, 23);
}

function line(n, now) {
  const head = format === 'cri' ? `${now}${String(n % 1_000_000).padStart(6, '0')}Z stdout F ` : '';
  const body = `{"msg":"writer","n":${n},"p":"`;
  const pad = Math.max(0, lineBytes - head.length - body.length - 3);
  return `${head}${body}${'x'.repeat(pad)}"}\n`;
}

let fd = openSync(file, 'a');
let written = 0;
let size = existsSync(file) ? statSync(file).size : 0;
const t0 = Date.now();
say({ start: { t0, linesPerSec } });

function writeDue() {
  const due = Math.floor(((Date.now() - t0) / 1000) * linesPerSec);
  if (due <= written) return;
  let chunk = '';
  const now = stamp9();
  for (; written < due; written++) chunk += line(written, now);
  writeSync(fd, chunk);
  size += Buffer.byteLength(chunk);
}

function rotationStamp(d) {
  const p = (x) => String(x).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

let lastStamp = '';
let busy = false;

async function kubeletRotate() {
  if (size < maxSize) return;
  const s = rotationStamp(new Date());
  if (s === lastStamp) return; // kubelet's names have one-second resolution: next check
  const dir = dirname(file);
  const base = basename(file);
  for (const f of readdirSync(dir)) if (f.startsWith(`${base}.`) && f.endsWith('.tmp')) rmSync(join(dir, f), { force: true });
  let rotated = readdirSync(dir).filter((f) => f.startsWith(`${base}.`)).sort();
  const keep = Math.max(0, maxFiles - 2);
  for (const f of rotated.slice(0, Math.max(0, rotated.length - keep))) rmSync(join(dir, f), { force: true });
  rotated = rotated.slice(Math.max(0, rotated.length - keep));
  for (const f of rotated.slice(0, -1)) {
    if (f.endsWith('.gz')) continue;
    const src = join(dir, f);
    await pipeline(createReadStream(src), createGzip(), createWriteStream(`${src}.gz.tmp`));
    renameSync(`${src}.gz.tmp`, `${src}.gz`);
    rmSync(src, { force: true });
  }
  lastStamp = s;
  renameSync(file, `${file}.${s}`);
  writeDue(); // the runtime still writes to the old descriptor until it reopens
  closeSync(fd);
  fd = openSync(file, 'a');
  size = 0;
  say({ rotated: { name: `${base}.${s}`, written } });
}

function copyTruncate() {
  // logrotate copytruncate: copy, then truncate in place. What is written between the two is
  // lost by logrotate itself; what the tailer had not read by the truncate is lost to it.
  writeDue();
  const before = written;
  copyFileSync(file, `${file}.1`);
  writeDue();
  const at = Date.now();
  ftruncateSync(fd, 0);
  size = 0;
  say({ cut: { at, copiedUpTo: before, truncatedAt: written } });
}

const tick = setInterval(writeDue, 20);
const check = setInterval(
  () => {
    if (busy) return;
    busy = true;
    const work = mode === 'kubelet' ? kubeletRotate() : mode === 'copytruncate' ? Promise.resolve(copyTruncate()) : Promise.resolve();
    work.catch((err) => say({ error: String(err) })).finally(() => (busy = false));
  },
  mode === 'copytruncate' ? cutMs : checkMs,
);

process.on('SIGTERM', () => {
  clearInterval(tick);
  clearInterval(check);
  const finish = () => {
    writeDue();
    closeSync(fd);
    say({ done: { written } });
    process.exit(0);
  };
  if (busy) setTimeout(finish, 200);
  else finish();
});
