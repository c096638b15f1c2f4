import { describe, expect, it } from 'vitest';
import { SESSION_COOKIE, SessionStore, sessionCookie, sessionIdFrom } from '../../../../src/gateway/ui/sessions.js';

/** Explorer sessions in memory: expiry by the clock, a bound on how many, ids of one shape only. */
describe('SessionStore', () => {
  it('a session lives for its ttl, then is gone', () => {
    let now = 1_000_000;
    const s = new SessionStore(10_000, 100, () => now);
    const { id, expiresAtMs } = s.create();
    expect(expiresAtMs).toBe(1_010_000);
    const cookie = `other=1; ${SESSION_COOKIE}=${id}`;
    expect(s.check(cookie)).toBe(expiresAtMs);
    now += 9_999;
    expect(s.check(cookie)).toBe(expiresAtMs);
    now += 1;
    expect(s.check(cookie)).toBeUndefined();
    expect(s.size).toBe(0);
  });

  it('keeps at most maxSessions, dropping the oldest; revoke ends one', () => {
    const s = new SessionStore(60_000, 3, () => 0);
    const ids = [s.create().id, s.create().id, s.create().id, s.create().id];
    expect(s.size).toBe(3);
    expect(s.check(`${SESSION_COOKIE}=${ids[0]}`)).toBeUndefined();
    expect(s.check(`${SESSION_COOKIE}=${ids[3]}`)).toBe(60_000);
    expect(s.revoke(`${SESSION_COOKIE}=${ids[3]}`)).toBe(true);
    expect(s.revoke(`${SESSION_COOKIE}=${ids[3]}`)).toBe(false);
    expect(new Set(ids).size).toBe(4);
  });

  it('reads only a well-formed id from the Cookie header', () => {
    const id = 'a'.repeat(43);
    expect(sessionIdFrom(`${SESSION_COOKIE}=${id}`)).toBe(id);
    expect(sessionIdFrom(` x=y ;  ${SESSION_COOKIE}=${id} ; z`)).toBe(id);
    for (const bad of [undefined, '', SESSION_COOKIE, `${SESSION_COOKIE}=`, `${SESSION_COOKIE}=${'a'.repeat(42)}`, `${SESSION_COOKIE}=${'a'.repeat(44)}`, `${SESSION_COOKIE}=${'a'.repeat(42)}=`, `x${SESSION_COOKIE}=${id}`, `${SESSION_COOKIE}=${id}`.padEnd(9000, ' ')]) {
      expect(sessionIdFrom(bad)).toBeUndefined();
    }
    expect(sessionCookie(id, 3_600_000, true)).toBe(`${SESSION_COOKIE}=${id}; Max-Age=3600; Path=/; HttpOnly; SameSite=Strict; Secure`);
  });
});
