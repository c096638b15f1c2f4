import { createConnection, createServer, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { JsPeerCredentials, loadPeerCredentials, PEER_CREDENTIALS_UNSUPPORTED, socketFd } from '../../../src/native/peer-credentials.js';
import { silentLogger } from '../../../src/self/logger.js';

/** A unix socket connection from this process to itself; resolves to the server's end. */
async function selfConnection(): Promise<{ accepted: Socket; close: () => void }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sx-peercred-'));
  const file = path.join(dir, 's.sock');
  let client: Socket | undefined;
  const accepted = await new Promise<Socket>((resolve) => {
    const server = createServer((s) => {
      server.close();
      resolve(s);
    }).listen(file, () => {
      client = createConnection(file);
    });
  });
  return {
    accepted,
    close: () => {
      accepted.destroy();
      client?.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('socket peer credentials', () => {
  it('the addon reads the peer\'s pid, uid and gid from the kernel (SO_PEERCRED)', async () => {
    const reader = loadPeerCredentials({ native: true, logger: silentLogger() });
    expect(reader.implementation).toBe('native');
    const c = await selfConnection();
    try {
      const out = new Int32Array(3);
      expect(reader.read(socketFd(c.accepted)!, out)).toBe(0);
      expect([...out]).toEqual([process.pid, process.getuid!(), process.getgid!()]);
    } finally {
      c.close();
    }
  });

  it('the JS fallback has the same interface and says it cannot (-EOPNOTSUPP); both refuse bad arguments alike', async () => {
    const native = loadPeerCredentials({ native: true, logger: silentLogger() });
    const js = new JsPeerCredentials();
    expect(loadPeerCredentials({ native: false, logger: silentLogger() }).implementation).toBe('js');
    const c = await selfConnection();
    try {
      const out = new Int32Array(3);
      expect(js.read(socketFd(c.accepted)!, out)).toBe(PEER_CREDENTIALS_UNSUPPORTED);
      expect([...out]).toEqual([0, 0, 0]);
    } finally {
      c.close();
    }
    for (const r of [native, js]) {
      expect(() => r.read(-1, new Int32Array(3))).toThrow(TypeError);
      expect(() => r.read(0, new Int32Array(2))).toThrow(TypeError);
      expect(() => r.read(0, new Float64Array(3) as unknown as Int32Array)).toThrow(TypeError);
    }
    // Not a socket (a closed or unrelated descriptor): an errno, never a throw or a crash.
    expect(native.read(2 ** 20, new Int32Array(3))).toBeLessThan(0);
  });
});
