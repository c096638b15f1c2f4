import { html } from 'htm/preact';
import { useState } from 'preact/hooks';

/** Light or dark: the system's preference unless the user picked one (kept in localStorage). */
const KEY = 'sextant.theme';
type Theme = 'system' | 'light' | 'dark';

export function applyStoredTheme(): void {
  const t = localStorage.getItem(KEY);
  if (t === 'light' || t === 'dark') document.documentElement.dataset['theme'] = t;
}

export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(() => (localStorage.getItem(KEY) as Theme | null) ?? 'system');
  const next: Record<Theme, Theme> = { system: 'dark', dark: 'light', light: 'system' };
  const pick = (): void => {
    const t = next[theme];
    setTheme(t);
    if (t === 'system') {
      localStorage.removeItem(KEY);
      delete document.documentElement.dataset['theme'];
    } else {
      localStorage.setItem(KEY, t);
      document.documentElement.dataset['theme'] = t;
    }
  };
  return html`<button type="button" class="theme" onClick=${pick} aria-label=${`Theme: ${theme}. Switch to ${next[theme]}`}>Theme: ${theme}</button>`;
}
