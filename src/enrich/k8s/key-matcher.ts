/**
 * An allow-list of label or annotation keys, compiled once: exact keys, and prefixes written
 * with a trailing `*` (`app.kubernetes.io/*`). Matching is a Set lookup plus a short scan of the
 * prefixes, done when an object arrives from the API, never per record.
 */
export class KeyMatcher {
  readonly #exact: ReadonlySet<string>;
  readonly #prefixes: readonly string[];

  constructor(patterns: readonly string[]) {
    const exact = new Set<string>();
    const prefixes: string[] = [];
    for (const p of patterns) {
      if (p.endsWith('*')) prefixes.push(p.slice(0, -1));
      else exact.add(p);
    }
    this.#exact = exact;
    this.#prefixes = prefixes;
  }

  get empty(): boolean {
    return this.#exact.size === 0 && this.#prefixes.length === 0;
  }

  matches(key: string): boolean {
    if (this.#exact.has(key)) return true;
    for (const p of this.#prefixes) if (key.startsWith(p)) return true;
    return false;
  }
}
