import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { login } from '../api.js';

/**
 * The read token, asked for once: it is sent to the gateway, which answers with an HttpOnly
 * session cookie; the page keeps no copy (not in storage, not in the URL).
 */
export function Login(props: { reason: 'start' | 'expired' | 'closed'; onDone: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  if (props.reason === 'closed') {
    return html`<section class="message message-warn login" role="alert">
      <h2>This gateway has no read tokens</h2>
      <p>Set <code>gateway.readTokens</code> (or <code>SEXTANT_GATEWAY_READ_TOKENS</code>) and log in with one, or open the explorer from the gateway's own machine with <code>gateway.readOpenOnLoopback</code>.</p>
    </section>`;
  }
  const submit = (e: Event): void => {
    e.preventDefault();
    setBusy(true);
    setError('');
    login(token.trim())
      .then(() => {
        setToken('');
        props.onDone();
      })
      .catch((err: unknown) => setError(err instanceof Error ? err.message : String(err)))
      .finally(() => setBusy(false));
  };
  return html`<form class="login" onSubmit=${submit} aria-labelledby="login-title">
    <h2 id="login-title">${props.reason === 'expired' ? 'Your session expired — log in again' : 'Log in to the explorer'}</h2>
    <p class="muted">Enter a read token of this gateway (<code>gateway.readTokens</code>). It is exchanged once for a session cookie; the page does not keep it.</p>
    <label for="token">Read token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required value=${token} onInput=${(ev: Event) => setToken((ev.currentTarget as HTMLInputElement).value)} />
    <button type="submit" disabled=${busy}>${busy ? 'Logging in…' : 'Log in'}</button>
    ${error !== '' ? html`<p class="error" role="alert">${error}</p>` : null}
  </form>`;
}
