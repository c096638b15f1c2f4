import { request } from 'undici';
import type { Logger } from '../../self/logger.js';
import type { SecretText } from './config.js';

/**
 * The optional webhook: one JSON POST when a problem opens and one when it closes, retried with
 * exponential backoff (1 s doubling to 60 s, jittered) on a network error, 408, 429 or 5xx, up
 * to a deadline; a secret in a header for the receiver to check. Deliveries are queued in order
 * and bounded: a receiver down for long loses the oldest notices (counted, logged once), never
 * the gateway's memory.
 */

export const WEBHOOK_SECRET_HEADER = 'x-sextant-webhook-secret';

export interface WebhookTuning {
  readonly firstBackoffMs: number;
  readonly maxBackoffMs: number;
  /** A notice is given up after this long. */
  readonly deadlineMs: number;
  readonly timeoutMs: number;
  readonly maxQueued: number;
}

export const DEFAULT_WEBHOOK_TUNING: WebhookTuning = Object.freeze({ firstBackoffMs: 1_000, maxBackoffMs: 60_000, deadlineMs: 15 * 60_000, timeoutMs: 10_000, maxQueued: 1_000 });

export type DeliveryResult = 'ok' | 'retry' | 'failed';

export class Webhook {
  readonly #url: string;
  readonly #secret: SecretText | undefined;
  readonly #logger: Logger;
  readonly #tuning: WebhookTuning;
  readonly #counted: (result: DeliveryResult) => void;
  readonly #queue: string[] = [];
  #running: Promise<void> | undefined;
  #closed = false;
  #wake: (() => void) | undefined;

  constructor(url: string, secret: SecretText | undefined, deps: { logger: Logger; counted: (result: DeliveryResult) => void }, tuning: Partial<WebhookTuning> = {}) {
    this.#url = url;
    this.#secret = secret;
    this.#logger = deps.logger;
    this.#counted = deps.counted;
    this.#tuning = { ...DEFAULT_WEBHOOK_TUNING, ...tuning };
  }

  /** Queues one notice. */
  send(body: unknown): void {
    if (this.#closed) return;
    if (this.#queue.length >= this.#tuning.maxQueued) {
      this.#queue.shift();
      this.#counted('failed');
      this.#logger.warn({ queued: this.#queue.length }, 'problem webhook queue full: the oldest notice was dropped');
    }
    this.#queue.push(JSON.stringify(body));
    this.#running ??= this.#drain().finally(() => (this.#running = undefined));
  }

  /** Resolves once everything queued is delivered or given up (tests), or at once when closed. */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  /** Stops: what is being retried is given up. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#queue.length = 0;
    this.#wake?.();
    await this.#running;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && !this.#closed) {
      const body = this.#queue[0]!;
      await this.#deliver(body);
      this.#queue.shift();
    }
  }

  async #deliver(body: string): Promise<void> {
    const deadline = Date.now() + this.#tuning.deadlineMs;
    let backoff = this.#tuning.firstBackoffMs;
    for (let attempt = 1; !this.#closed; attempt++) {
      let retry: boolean;
      let why: string;
      try {
        const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'sextant-gateway' };
        // The secret goes only into the header, never into a log line or an error.
        if (this.#secret !== undefined) headers[WEBHOOK_SECRET_HEADER] = this.#secret.reveal();
        const res = await request(this.#url, { method: 'POST', headers, body, headersTimeout: this.#tuning.timeoutMs, bodyTimeout: this.#tuning.timeoutMs });
        await res.body.dump();
        if (res.statusCode >= 200 && res.statusCode < 300) {
          this.#counted('ok');
          return;
        }
        retry = res.statusCode === 408 || res.statusCode === 429 || res.statusCode >= 500;
        why = `HTTP ${res.statusCode}`;
      } catch (err) {
        retry = true;
        why = err instanceof Error ? (err as NodeJS.ErrnoException).code ?? err.name : 'error';
      }
      if (!retry || Date.now() + backoff > deadline) {
        this.#counted('failed');
        this.#logger.warn({ attempts: attempt, reason: why }, 'problem webhook notice given up');
        return;
      }
      this.#counted('retry');
      const wait = backoff * (0.5 + Math.random() / 2);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, wait);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      backoff = Math.min(backoff * 2, this.#tuning.maxBackoffMs);
    }
  }
}
