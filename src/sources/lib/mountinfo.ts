/**
 * `/proc/<pid>/mountinfo` (proc(5)): one mount per line,
 *   36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   (1)(2)(3)  (4)   (5)         (6)       (7…)    (8)(9)  (10)      (11)
 * id, parent id, major:minor, root within the filesystem, mount point, per-mount options,
 * zero or more optional fields ended by `-`, filesystem type, source, superblock options.
 * Blanks, tabs, newlines and backslashes in paths are octal-escaped (`\040`).
 */
export interface Mount {
  readonly id: number;
  readonly parentId: number;
  readonly major: number;
  readonly minor: number;
  /** Path within the filesystem that is mounted (`/` unless a bind mount of a subtree). */
  readonly root: string;
  readonly mountPoint: string;
  readonly fsType: string;
  /** Device or source (`/dev/vda`, `server:/export`, `tmpfs`). */
  readonly source: string;
  /** Read-only by the per-mount or the superblock options. */
  readonly readOnly: boolean;
}

export interface Mountinfo {
  readonly mounts: readonly Mount[];
  readonly malformed: number;
}

const DEV = /^(\d{1,10}):(\d{1,10})$/;

export function parseMountinfo(text: string): Mountinfo {
  const mounts: Mount[] = [];
  let malformed = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const m = parseLine(line);
    if (m) mounts.push(m);
    else malformed++;
  }
  return { mounts, malformed };
}

function parseLine(line: string): Mount | undefined {
  const f = line.split(' ');
  const dash = f.indexOf('-', 6);
  if (f.length < 10 || dash === -1 || f.length < dash + 4) return undefined;
  const id = Number(f[0]);
  const parentId = Number(f[1]);
  const dev = DEV.exec(f[2]!);
  if (!Number.isSafeInteger(id) || !Number.isSafeInteger(parentId) || !dev || f[3] === '' || f[4] === '') return undefined;
  const root = unescapeOctal(f[3]!);
  const mountPoint = unescapeOctal(f[4]!);
  const fsType = unescapeOctal(f[dash + 1]!);
  if (fsType === '' || !mountPoint.startsWith('/')) return undefined;
  const readOnly = hasOption(f[5]!, 'ro') || hasOption(f[dash + 3]!, 'ro');
  return { id, parentId, major: Number(dev[1]), minor: Number(dev[2]), root, mountPoint, fsType, source: unescapeOctal(f[dash + 2]!), readOnly };
}

function hasOption(options: string, name: string): boolean {
  return options === name || options.startsWith(name + ',') || options.includes(',' + name + ',') || options.endsWith(',' + name);
}

/** `\040` → space etc. (the kernel's mangle() escapes space, tab, newline and backslash). */
export function unescapeOctal(s: string): string {
  if (!s.includes('\\')) return s;
  return s.replace(/\\([0-3][0-7]{2})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}
