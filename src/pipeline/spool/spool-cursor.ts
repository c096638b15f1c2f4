import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../io/state-file.js';

/**
 * How far the endpoint has acknowledged the spool: the segment and offset of the first record
 * not yet delivered. Written atomically (`cursor.json` beside the segments) on the spool's
 * interval and at close; a record delivered after the last write is sent again after a crash
 * (at least once), never skipped. A missing or unreadable cursor replays every segment kept.
 */

export const CURSOR_FILE = 'cursor.json';
const FORMAT = 'sextant-spool-cursor';

export interface SpoolPosition {
  readonly seq: number;
  readonly offset: number;
}

export function encodeCursor(p: SpoolPosition): string {
  return `${JSON.stringify({ format: FORMAT, version: 1, seq: p.seq, offset: p.offset })}\n`;
}

export function decodeCursor(text: string): SpoolPosition | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (o.format !== FORMAT || o.version !== 1) return undefined;
  if (!Number.isSafeInteger(o.seq) || !Number.isSafeInteger(o.offset) || (o.seq as number) < 0 || (o.offset as number) < 0) return undefined;
  return { seq: o.seq as number, offset: o.offset as number };
}

export async function readCursor(file: string): Promise<SpoolPosition | undefined> {
  try {
    return decodeCursor(await readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
}

export function writeCursor(file: string, p: SpoolPosition): Promise<void> {
  return writeFileAtomic(file, encodeCursor(p));
}
