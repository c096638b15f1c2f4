import { hash } from 'node:crypto';
import { type FileHandle, stat } from 'node:fs/promises';

/**
 * Which file a log file is, independent of its name. A path is not an identity: rotation renames
 * the file away and a new one takes the name. Device + inode is what the kernel calls the same
 * file, but inodes are reused once a file is deleted, and copytruncate keeps the inode while
 * replacing the content. So the identity is dev:ino plus a hash of the file's first bytes.
 *
 * The head hash covers the first FINGERPRINT_BYTES bytes, or the whole file while it is shorter.
 * A file first seen at 40 bytes is fingerprinted on those 40; once it has grown, the same file
 * still hashes to the same value over its first 40 bytes, so heads are compared on the length
 * recorded (the common prefix) and the record is then completed to the full length (`extend`).
 * A stored head of length L matches a file only if the file still has at least L bytes.
 */
export const FINGERPRINT_BYTES = 256;

export interface FileIdentity {
  /** `dev:ino` in decimal: the checkpoint key. Unique among files that exist at one moment. */
  readonly key: string;
  /** How many leading bytes `headHash` covers (0 … FINGERPRINT_BYTES). */
  readonly headLength: number;
  /** sha1 (hex) of the first `headLength` bytes. */
  readonly headHash: string;
}

/** What one look at an open file found. `head` is the caller's scratch; valid until reused. */
export interface FileProbe {
  readonly identity: FileIdentity;
  readonly size: number;
  /** Hard links left: 0 means the file was deleted while we hold it open. */
  readonly nlink: number;
  readonly head: Buffer;
}

/**
 * How a known file compares with what is on disk now:
 *   same       same file, head intact, size not below the offset we hold;
 *   truncated  same dev:ino and head intact, but the size fell below our offset (copytruncate
 *              caught before the writer refilled the head);
 *   replaced   same dev:ino but another head: the content was replaced (copytruncate that was
 *              refilled, or — for a checkpoint loaded at start — the inode was reused by a new file);
 *   other-file another dev:ino altogether (the path now names another file).
 * The reaction to the last three is the same: the offset is void, read the new content from 0.
 */
export type IdentityVerdict = 'same' | 'truncated' | 'replaced' | 'other-file';

/** The sha1 of nothing: the head of an empty file. */
const EMPTY_HASH = hash('sha1', Buffer.alloc(0), 'hex');

export function identityKey(dev: bigint | number, ino: bigint | number): string {
  return `${dev}:${ino}`;
}

/** Whether `path` names the file whose dev:ino key is `key` now (false when it names none). */
export async function pathNames(path: string, key: string): Promise<boolean> {
  try {
    const st = await stat(path, { bigint: true });
    return identityKey(st.dev, st.ino) === key;
  } catch {
    return false;
  }
}

/** The identity of a file given its dev, ino and its first bytes (`head`, already cut to ≤ N). */
export function makeIdentity(dev: bigint | number, ino: bigint | number, head: Uint8Array): FileIdentity {
  return withHead(identityKey(dev, ino), head);
}

function withHead(key: string, head: Uint8Array): FileIdentity {
  const len = Math.min(head.length, FINGERPRINT_BYTES);
  return { key, headLength: len, headHash: len === 0 ? EMPTY_HASH : hash('sha1', head.subarray(0, len), 'hex') };
}

/**
 * Looks at an open file: fstat (bigint, so a 64-bit inode is never rounded) and its first
 * ≤ FINGERPRINT_BYTES bytes, read into `scratch` (at least FINGERPRINT_BYTES long) at position 0
 * without moving any file position. Throws what fs throws (the file handle was closed, EIO).
 */
export async function probeFile(fh: FileHandle, scratch: Buffer = Buffer.allocUnsafe(FINGERPRINT_BYTES)): Promise<FileProbe> {
  const st = await fh.stat({ bigint: true });
  const size = Number(st.size);
  const want = Math.min(size, FINGERPRINT_BYTES, scratch.length);
  // The file may shrink between the stat and the read: the head is what the read returned.
  const { bytesRead } = want > 0 ? await fh.read(scratch, 0, want, 0) : { bytesRead: 0 };
  const head = scratch.subarray(0, bytesRead);
  return { identity: makeIdentity(st.dev, st.ino, head), size, nlink: Number(st.nlink), head };
}

/** True when the first `known.headLength` bytes of `head` hash to `known.headHash`. */
export function headMatches(known: Pick<FileIdentity, 'headLength' | 'headHash'>, head: Uint8Array): boolean {
  if (head.length < known.headLength) return false;
  if (known.headLength === 0) return true;
  return hash('sha1', head.subarray(0, known.headLength), 'hex') === known.headHash;
}

/**
 * Compares what we knew of a file (its identity and the offset we hold in it) with a fresh
 * probe. `offset` is the byte position we would read next.
 */
export function compareIdentity(known: FileIdentity, offset: number, probe: FileProbe): IdentityVerdict {
  if (known.key !== probe.identity.key) return 'other-file';
  if (!headMatches(known, probe.head)) {
    // A file shorter than the recorded head and shorter than our offset was truncated (the
    // head cannot match because the bytes are gone); that is copytruncate, not a new file,
    // as long as what is left is a prefix of what we knew — which we cannot check. The
    // caller's reaction is identical either way; name it by the likelier cause.
    return probe.size < offset && probe.size < known.headLength ? 'truncated' : 'replaced';
  }
  if (probe.size < offset) return 'truncated';
  return 'same';
}

/**
 * The identity with its head completed from a longer probe of the same file (call after
 * compareIdentity said 'same'); returns `known` itself when there is nothing to add.
 */
export function extendIdentity(known: FileIdentity, probe: FileProbe): FileIdentity {
  if (known.headLength >= FINGERPRINT_BYTES || probe.head.length <= known.headLength) return known;
  return withHead(known.key, probe.head);
}
