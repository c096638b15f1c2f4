import path from 'node:path';
import { readCapped } from '../../io/read-capped.js';

/**
 * uid → user name from the host's `/etc/passwd` (under the host root, not the agent's own: in a
 * container the two differ). Users from NSS/LDAP are not in the file and show as the uid text.
 */
export function parsePasswd(text: string): Map<number, string> {
  const names = new Map<number, string>();
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.length === 0 || line.charCodeAt(0) === 35 /* # */) continue;
    const c1 = line.indexOf(':');
    const c2 = c1 < 0 ? -1 : line.indexOf(':', c1 + 1);
    const c3 = c2 < 0 ? -1 : line.indexOf(':', c2 + 1);
    if (c1 <= 0 || c3 < 0) continue;
    const uidText = line.slice(c2 + 1, c3);
    if (!/^\d{1,10}$/.test(uidText)) continue;
    const uid = Number(uidText);
    // The first entry for a uid wins, as getpwuid(3) returns it.
    if (!names.has(uid)) names.set(uid, line.slice(0, c1));
  }
  return names;
}

/** /etc/passwd of a large host is a few hundred KiB; a bigger file is refused, not grown into. */
const PASSWD_MAX_BYTES = 1 << 20;

export class UserNames {
  readonly #file: string;
  #names = new Map<number, string>();
  #scratch: Buffer | undefined;

  constructor(hostRoot: string) {
    this.#file = path.join(hostRoot, 'etc/passwd');
  }

  /** Reads the file again; keeps the previous names when it cannot (false). */
  async refresh(): Promise<boolean> {
    this.#scratch ??= Buffer.allocUnsafe(PASSWD_MAX_BYTES);
    try {
      this.#names = parsePasswd(await readCapped(this.#file, this.#scratch));
      return true;
    } catch {
      return false;
    } finally {
      // Read rarely: the megabyte is not worth holding between reads.
      this.#scratch = undefined;
    }
  }

  /** Called once per process (its resource is built once), so the uid text is not cached. */
  name(uid: number): string {
    return this.#names.get(uid) ?? String(uid);
  }

  get size(): number {
    return this.#names.size;
  }
}
