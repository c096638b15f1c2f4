/**
 * Masks what looks like a secret in a process's command line before it leaves the node. Command
 * lines are world-readable on the host, but an observability backend is read by far more people
 * than can log in to a node, and `--password=…`, `TOKEN=…` and `scheme://user:pass@host` are
 * common in them. Deliberately conservative: a value is masked when its NAME says it is a
 * secret, never guessed from its shape.
 *
 * One pass over the arguments (the reader joined them with single spaces); each name is tested
 * by an anchored pattern on at most MAX_NAME characters, so a hostile 100 kB argument costs
 * linear time, not a regex backtracking storm.
 */

export const MASK = '[redacted]';

const MAX_NAME = 128;
const MAX_URL_ARG = 4096;

/**
 * A secret's name: the keyword ends the name or is followed by a separator, so `db.password`,
 * `PGPASSWORD` and `token-file` match but `--passthrough` and `--max-tokens` do not.
 */
const SECRET_NAME =
  /^-{0,2}[\w.-]*?(?:password|passwd|pass|pwd|secret|token|api[_-]?key|credentials?|private[_-]?key)(?:[_.-][\w.-]*)?$/i;
/** `scheme://user:password@` inside one argument. */
const URL_USERINFO = /([a-z][a-z0-9+.-]{0,30}:\/\/[^\s:/@]{1,256}):([^\s@/]{1,1024})@/gi;

export function maskCommandLine(cmdline: string): string {
  const args = cmdline.split(' ');
  let changed = false;
  let valueIsSecret = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (valueIsSecret) {
      valueIsSecret = false;
      if (arg !== '' && !arg.startsWith('-')) {
        args[i] = MASK;
        changed = true;
        continue;
      }
    }
    const eq = arg.indexOf('=');
    if (eq > 0 && eq <= MAX_NAME && SECRET_NAME.test(arg.slice(0, eq))) {
      if (eq < arg.length - 1) {
        args[i] = `${arg.slice(0, eq)}=${MASK}`;
        changed = true;
      }
      continue;
    }
    // `--password value`: the flag stands alone and the next argument is its value.
    if (eq < 0 && arg.startsWith('-') && arg.length <= MAX_NAME && SECRET_NAME.test(arg)) {
      valueIsSecret = true;
      continue;
    }
    if (arg.length <= MAX_URL_ARG && arg.includes('://') && arg.includes('@')) {
      const masked = arg.replace(URL_USERINFO, `$1:${MASK}@`);
      if (masked !== arg) {
        args[i] = masked;
        changed = true;
      }
    }
  }
  return changed ? args.join(' ') : cmdline;
}
