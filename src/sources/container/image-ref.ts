/**
 * An image reference split into what `container.image.name` and `container.image.tags` hold:
 *   nginx                              → name nginx, no tag (the runtime resolved `latest`)
 *   nginx:1.27                         → nginx, 1.27
 *   registry:5000/team/app:v2          → registry:5000/team/app, v2 (the `:` before a `/` is a port)
 *   app@sha256:<hex>                   → app, digest sha256:<hex>
 *   app:v2@sha256:<hex>                → app, v2, digest
 *   sha256:<hex>                       → no name (a container created from an image id)
 * The name is kept as the user wrote it (no `docker.io/library/` added): it is what they search for.
 */
export interface ImageRef {
  readonly name: string | undefined;
  readonly tag: string | undefined;
  readonly digest: string | undefined;
}

/** References are at most 255 (name) + 128 (tag) + a digest; anything longer is not one. */
const MAX_REF = 1024;

export function parseImageRef(ref: string | undefined): ImageRef {
  if (typeof ref !== 'string' || ref.length === 0 || ref.length > MAX_REF || /[\s\0]/.test(ref)) {
    return { name: undefined, tag: undefined, digest: undefined };
  }
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1) || undefined;
    rest = rest.slice(0, at);
  }
  if (rest.length === 0 || /^sha256:[0-9a-f]{64}$/.test(rest)) {
    return { name: undefined, tag: undefined, digest: digest ?? (rest.length > 0 ? rest : undefined) };
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1) || undefined;
    rest = rest.slice(0, colon);
  }
  return { name: rest.length > 0 ? rest : undefined, tag, digest };
}
