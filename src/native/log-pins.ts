import { requireAddon } from './binding.js';

/*
 * The addon's Docker log pinner (native/sextant_pin.c): a thread blocked on its own inotify
 * descriptor that opens each `<id>-json.log` the moment the engine creates it, so a file the
 * engine rotates through max-file and deletes while the event loop is busy is still held when
 * the log source gets to it (src/sources/logs/docker-dir-pins.ts). Without the addon, that pass
 * runs from the watch callback alone (the fallback).
 */

/** A descriptor the pinner opened, and the name the file was created under. */
export interface NativePin {
  readonly fd: number;
  readonly path: string;
}

export interface NativePinner {
  /** The descriptors opened since the last call, oldest first; the caller closes each. */
  take(): NativePin[];
  /** Stops the thread and closes the descriptors never taken. */
  stop(): void;
}

interface PinBinding {
  pinStart?: (roots: string[]) => object | undefined;
  pinTake?: (handle: object) => (number | string)[];
  pinStop?: (handle: object) => void;
}

/** A pinner watching `roots` (Docker containers directories), or undefined: no addon, `native` off, or no inotify. */
export function startNativePinner(roots: readonly string[], native: boolean): NativePinner | undefined {
  if (!native || roots.length === 0) return undefined;
  let b: PinBinding;
  try {
    b = requireAddon<PinBinding>();
  } catch {
    return undefined;
  }
  const { pinStart, pinTake, pinStop } = b;
  if (typeof pinStart !== 'function' || typeof pinTake !== 'function' || typeof pinStop !== 'function') return undefined;
  const handle = pinStart([...roots]);
  if (handle === undefined) return undefined;
  return {
    take: () => {
      const flat = pinTake(handle);
      const out: NativePin[] = [];
      if (!Array.isArray(flat)) return out; // out of memory in the addon: it closed what it could not hand over
      for (let i = 0; i + 1 < flat.length; i += 2) out.push({ fd: flat[i] as number, path: flat[i + 1] as string });
      return out;
    },
    stop: () => pinStop(handle),
  };
}
