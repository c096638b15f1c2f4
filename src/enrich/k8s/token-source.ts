import { readFile, stat } from 'node:fs/promises';
import { Secret } from '../../config-kinds/secret.js';
import { errnoText } from '../../config-kinds/values.js';
import { KubeApiError } from './kube-error.js';

/** A service account token is a JWT of a few KiB; anything far larger is not a token file. */
const MAX_TOKEN_BYTES = 64 * 1024;

/**
 * The bearer token of the agent's service account, read from its file and read again when the
 * file changes: the kubelet rewrites a projected (bound) token about every hour, before it
 * expires, so a token read once at start stops working. The file's identity (inode, size,
 * mtime) is checked before each request, which costs one stat; requests are few (lists,
 * watches, owner lookups). `invalidate()` forces a read after a 401.
 *
 * The token is held as a `Secret`: it never reaches a log line, an error message or a metric.
 */
export class TokenSource {
  readonly #path: string;
  #token: Secret | undefined;
  #stamp = '';

  constructor(path: string) {
    this.#path = path;
  }

  get path(): string {
    return this.#path;
  }

  async current(): Promise<Secret> {
    let stamp: string;
    try {
      const st = await stat(this.#path, { bigint: true });
      stamp = `${st.ino}:${st.size}:${st.mtimeNs}`;
    } catch (err) {
      throw new KubeApiError('config', 0, `service account token file: ${errnoText(err)}`);
    }
    if (this.#token !== undefined && stamp === this.#stamp) return this.#token;
    let text: string;
    try {
      const buf = await readFile(this.#path);
      if (buf.length > MAX_TOKEN_BYTES) throw new KubeApiError('config', 0, 'service account token file is larger than 64 KiB');
      text = buf.toString('utf8').trim();
    } catch (err) {
      if (err instanceof KubeApiError) throw err;
      throw new KubeApiError('config', 0, `service account token file: ${errnoText(err)}`);
    }
    // Checked without echoing: a wrong file may hold something else that is secret.
    if (text.length === 0 || !/^[\x21-\x7e]+$/.test(text)) throw new KubeApiError('config', 0, 'service account token file is empty or not a token');
    this.#token = new Secret(text, `file ${this.#path}`);
    this.#stamp = stamp;
    return this.#token;
  }

  /** The server refused the token: read the file again on the next request. */
  invalidate(): void {
    this.#stamp = '';
    this.#token = undefined;
  }
}
