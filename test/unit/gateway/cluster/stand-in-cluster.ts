import type { ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { FakeApiServer, json, type SeenRequest } from '../../enrich/k8s/fake-api-server.js';

/**
 * A stand-in Kubernetes API server for the cluster monitor's tests (there is none on these
 * machines), on the loopback HTTPS server of test/unit/enrich/k8s/fake-api-server.ts. It keeps
 * objects the way the API does and answers in the API's shapes:
 *
 * - one resourceVersion counter for everything (etcd's revision), stamped on every write;
 * - lists (`GET <collection>`): items in key order, no kind/apiVersion on items, `metadata.
 *   resourceVersion`, pages with `limit` / `continue` (a snapshot taken at the first page, as a
 *   consistent list is), `remainingItemCount`; an expired continue token is 410 Expired;
 * - watches (`?watch=1&resourceVersion=N`): every change after N replayed, then held open, each
 *   event `{"type":…,"object":…}` with kind and apiVersion on the object; bookmarks on demand;
 *   a resourceVersion older than the compaction point is an ERROR event carrying 410 Expired;
 * - Leases (`coordination.k8s.io/v1`): GET, POST (409 AlreadyExists), PUT with optimistic
 *   concurrency (409 Conflict when `metadata.resourceVersion` is not the current one).
 *
 * `intercept` lets a test answer a request itself first (403, 503, a cut or oversized list).
 */

export type Obj = Record<string, any>;

interface Change {
  readonly rv: number;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: Obj;
}

interface Watcher {
  readonly res: ServerResponse;
  readonly path: string;
}

/** Collection path → the kind of its items, its list kind and apiVersion. */
export const COLLECTIONS: Readonly<Record<string, { kind: string; apiVersion: string }>> = {
  '/api/v1/namespaces': { kind: 'Namespace', apiVersion: 'v1' },
  '/api/v1/nodes': { kind: 'Node', apiVersion: 'v1' },
  '/api/v1/pods': { kind: 'Pod', apiVersion: 'v1' },
  '/api/v1/services': { kind: 'Service', apiVersion: 'v1' },
  '/api/v1/persistentvolumeclaims': { kind: 'PersistentVolumeClaim', apiVersion: 'v1' },
  '/api/v1/resourcequotas': { kind: 'ResourceQuota', apiVersion: 'v1' },
  '/apis/apps/v1/deployments': { kind: 'Deployment', apiVersion: 'apps/v1' },
  '/apis/apps/v1/replicasets': { kind: 'ReplicaSet', apiVersion: 'apps/v1' },
  '/apis/apps/v1/statefulsets': { kind: 'StatefulSet', apiVersion: 'apps/v1' },
  '/apis/apps/v1/daemonsets': { kind: 'DaemonSet', apiVersion: 'apps/v1' },
  '/apis/batch/v1/jobs': { kind: 'Job', apiVersion: 'batch/v1' },
  '/apis/batch/v1/cronjobs': { kind: 'CronJob', apiVersion: 'batch/v1' },
  '/apis/autoscaling/v2/horizontalpodautoscalers': { kind: 'HorizontalPodAutoscaler', apiVersion: 'autoscaling/v2' },
  '/apis/events.k8s.io/v1/events': { kind: 'Event', apiVersion: 'events.k8s.io/v1' },
};

export const PATH_OF_KIND: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(COLLECTIONS).map(([p, c]) => [c.kind, p]));

const LEASES = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/;

export function status(code: number, reason: string, message: string, details?: Obj): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

function keyOf(o: Obj): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata.name}`;
}

export class StandInCluster {
  readonly server: FakeApiServer;
  /** Answer a request before the stand-in does; return true when answered. */
  intercept: ((req: SeenRequest, res: ServerResponse) => boolean) | undefined;
  /** Called before a Lease write is applied (a test can change the Lease under it: a race). */
  beforeLeaseWrite: ((req: SeenRequest, ns: string, name: string) => void) | undefined;
  #rv = 1000;
  #compactedBelow = 0;
  readonly #objects = new Map<string, Map<string, Obj>>();
  readonly #history = new Map<string, Change[]>();
  readonly #watchers = new Set<Watcher>();
  readonly #snapshots = new Map<string, { rv: number; items: Obj[] }>();
  readonly #leases = new Map<string, Obj>();
  /** Every Lease write answered, in order: `{ method, holder, status }`. */
  readonly leaseWrites: Array<{ method: string; holder: string; status: number; annotations: Obj }> = [];
  #leaseListeners: Array<() => void> = [];

  constructor(server: FakeApiServer) {
    this.server = server;
    for (const p of Object.keys(COLLECTIONS)) {
      this.#objects.set(p, new Map());
      this.#history.set(p, []);
    }
    server.handle = (req, res) => this.#route(req, res);
  }

  get resourceVersion(): number {
    return this.#rv;
  }

  /** Stores an object (a new one: ADDED; an existing key: MODIFIED), stamping uid and resourceVersion. */
  put(kindOrPath: string, object: Obj): Obj {
    const path = kindOrPath.startsWith('/') ? kindOrPath : PATH_OF_KIND[kindOrPath]!;
    const map = this.#objects.get(path)!;
    const o = structuredClone(object);
    o.metadata.uid ??= randomUUID();
    o.metadata.creationTimestamp ??= '2026-12-01T08:00:00Z';
    const had = map.has(keyOf(o));
    o.metadata.resourceVersion = String(++this.#rv);
    map.set(keyOf(o), o);
    this.#record(path, had ? 'MODIFIED' : 'ADDED', o);
    return o;
  }

  /** Changes a stored object in place (MODIFIED). */
  modify(kind: string, namespace: string, name: string, change: (o: Obj) => void): Obj {
    const o = structuredClone(this.get(kind, namespace, name));
    if (o === undefined) throw new Error(`no ${kind} ${namespace}/${name}`);
    change(o);
    return this.put(kind, o);
  }

  remove(kind: string, namespace: string, name: string): void {
    const path = PATH_OF_KIND[kind]!;
    const map = this.#objects.get(path)!;
    const k = `${namespace}/${name}`;
    const o = map.get(k);
    if (o === undefined) return;
    map.delete(k);
    const gone = structuredClone(o);
    gone.metadata.resourceVersion = String(++this.#rv);
    this.#record(path, 'DELETED', gone);
  }

  get(kind: string, namespace: string, name: string): Obj | undefined {
    return this.#objects.get(PATH_OF_KIND[kind]!)!.get(`${namespace}/${name}`);
  }

  all(kind: string): Obj[] {
    return [...this.#objects.get(PATH_OF_KIND[kind]!)!.values()];
  }

  /** History older than now is gone: watches from before it get 410, as after an etcd compaction. */
  compact(): void {
    this.#compactedBelow = this.#rv + 1;
    for (const h of this.#history.values()) h.length = 0;
    this.#snapshots.clear();
  }

  /** A bookmark to every open watch of `kind` (or all), at the current resourceVersion. */
  bookmark(kind?: string): void {
    for (const w of this.#watchers) {
      const c = COLLECTIONS[w.path]!;
      if (kind !== undefined && c.kind !== kind) continue;
      this.#send(w, { type: 'BOOKMARK', object: { kind: c.kind, apiVersion: c.apiVersion, metadata: { resourceVersion: String(this.#rv) } } });
    }
  }

  /** Ends every open watch (of `kind`, or all) as the server does at its timeoutSeconds. */
  endWatches(kind?: string): void {
    for (const w of [...this.#watchers]) {
      if (kind !== undefined && COLLECTIONS[w.path]!.kind !== kind) continue;
      this.#watchers.delete(w);
      w.res.end();
    }
  }

  /** Sends a 410 ERROR event to every open watch of `kind` and ends it (compaction mid-watch). */
  expireWatches(kind: string): void {
    for (const w of [...this.#watchers]) {
      if (COLLECTIONS[w.path]!.kind !== kind) continue;
      this.#watchers.delete(w);
      this.#send(w, { type: 'ERROR', object: status(410, 'Expired', 'too old resource version: 1 (2000)') });
      w.res.end();
    }
  }

  /** Writes `text` as it is onto every open watch of `kind` (bad lines); the number of watches written to. */
  writeRaw(kind: string, text: string): number {
    let n = 0;
    for (const w of this.#watchers) {
      if (COLLECTIONS[w.path]!.kind !== kind || w.res.writableEnded) continue;
      w.res.write(text);
      n++;
    }
    return n;
  }

  get openWatches(): number {
    return this.#watchers.size;
  }

  lease(namespace: string, name: string): Obj | undefined {
    return this.#leases.get(`${namespace}/${name}`);
  }

  /** Resolves once `check` holds after some Lease write (checked at once too). */
  async leaseUntil(check: (lease: Obj | undefined) => boolean, namespace: string, name: string, ms = 20_000): Promise<Obj | undefined> {
    if (check(this.lease(namespace, name))) return this.lease(namespace, name);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.#leaseListeners = this.#leaseListeners.filter((l) => l !== listener);
        reject(new Error(`timed out waiting on the Lease ${namespace}/${name}: ${JSON.stringify(this.lease(namespace, name)?.spec)}`));
      }, ms);
      const listener = (): void => {
        const l = this.lease(namespace, name);
        if (!check(l)) return;
        clearTimeout(t);
        this.#leaseListeners = this.#leaseListeners.filter((x) => x !== listener);
        resolve(l);
      };
      this.#leaseListeners.push(listener);
    });
  }

  /** Puts a Lease as another holder would (a competing gateway outside the test). */
  setLease(namespace: string, name: string, spec: Obj, annotations: Obj = {}): Obj {
    const o = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace, uid: randomUUID(), resourceVersion: String(++this.#rv), creationTimestamp: '2026-12-01T08:00:00Z', annotations }, spec };
    this.#leases.set(`${namespace}/${name}`, o);
    this.#notifyLease();
    return o;
  }

  #notifyLease(): void {
    for (const l of [...this.#leaseListeners]) l();
  }

  #record(path: string, type: Change['type'], object: Obj): void {
    const c = COLLECTIONS[path]!;
    const full = { kind: c.kind, apiVersion: c.apiVersion, ...object };
    const change: Change = { rv: Number(object.metadata.resourceVersion), type, object: full };
    this.#history.get(path)!.push(change);
    for (const w of this.#watchers) if (w.path === path) this.#send(w, { type, object: full });
  }

  #send(w: Watcher, event: Obj): void {
    if (!w.res.writableEnded) w.res.write(`${JSON.stringify(event)}\n`);
  }

  #route(req: SeenRequest, res: ServerResponse): void {
    if (this.intercept?.(req, res) === true) return;
    const lease = LEASES.exec(req.path);
    if (lease !== null) return this.#lease(req, res, decodeURIComponent(lease[1]!), lease[2] === undefined ? undefined : decodeURIComponent(lease[2]));
    if (COLLECTIONS[req.path] === undefined) {
      // GET of one namespaced object (the agent's owner lookups): /api/v1/namespaces/NS/RESOURCE/NAME, /apis/G/V/namespaces/NS/RESOURCE/NAME.
      const one = /^(\/api\/v1|\/apis\/[^/]+\/[^/]+)\/namespaces\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(req.path);
      const path = one === null ? undefined : `${one[1]}/${one[3]}`;
      const c = path === undefined ? undefined : COLLECTIONS[path];
      const o = c === undefined ? undefined : this.#objects.get(path!)!.get(`${decodeURIComponent(one![2]!)}/${decodeURIComponent(one![4]!)}`);
      if (req.method === 'GET' && c !== undefined && o !== undefined) return json(res, 200, { kind: c.kind, apiVersion: c.apiVersion, ...o });
      return json(res, 404, status(404, 'NotFound', one === null ? 'the server could not find the requested resource' : `${one[3]} "${one[4]}" not found`));
    }
    if (req.method !== 'GET') return json(res, 405, status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
    if (req.query.get('watch') === '1') return this.#watch(req, res);
    this.#list(req, res);
  }

  #list(req: SeenRequest, res: ServerResponse): void {
    const c = COLLECTIONS[req.path]!;
    const limit = Number(req.query.get('limit') ?? '0');
    const token = req.query.get('continue');
    let snap: { rv: number; items: Obj[] };
    let start = 0;
    if (token) {
      const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { id: string; start: number; rv: number };
      const s = this.#snapshots.get(t.id);
      if (s === undefined || t.rv < this.#compactedBelow) {
        return json(res, 410, status(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.'));
      }
      snap = s;
      start = t.start;
    } else {
      const items = [...this.#objects.get(req.path)!.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o);
      snap = { rv: this.#rv, items };
    }
    const end = limit > 0 ? Math.min(snap.items.length, start + limit) : snap.items.length;
    const metadata: Obj = { resourceVersion: String(snap.rv) };
    if (end < snap.items.length) {
      const id = randomUUID();
      this.#snapshots.set(id, snap);
      metadata.continue = Buffer.from(JSON.stringify({ id, start: end, rv: snap.rv })).toString('base64url');
      metadata.remainingItemCount = snap.items.length - end;
    }
    json(res, 200, { kind: `${c.kind}List`, apiVersion: c.apiVersion, metadata, items: snap.items.slice(start, end) });
  }

  #watch(req: SeenRequest, res: ServerResponse): void {
    const from = Number(req.query.get('resourceVersion') ?? '0');
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const w: Watcher = { res, path: req.path };
    if (from > 0 && from < this.#compactedBelow - 1) {
      this.#send(w, { type: 'ERROR', object: status(410, 'Expired', `too old resource version: ${from} (${this.#compactedBelow})`) });
      res.end();
      return;
    }
    for (const ch of this.#history.get(req.path)!) if (ch.rv > from) this.#send(w, { type: ch.type, object: ch.object });
    this.#watchers.add(w);
    res.on('close', () => this.#watchers.delete(w));
  }

  #lease(req: SeenRequest, res: ServerResponse, ns: string, name: string | undefined): void {
    if (req.method === 'GET' && name !== undefined) {
      const l = this.#leases.get(`${ns}/${name}`);
      if (l === undefined) return json(res, 404, status(404, 'NotFound', `leases.coordination.k8s.io "${name}" not found`, { name, group: 'coordination.k8s.io', kind: 'leases' }));
      return json(res, 200, l);
    }
    let body: Obj;
    try {
      body = JSON.parse(req.body) as Obj;
    } catch {
      return json(res, 400, status(400, 'BadRequest', 'the body of the request was in an unknown format'));
    }
    const target = name ?? body.metadata?.name;
    this.beforeLeaseWrite?.(req, ns, target);
    const key = `${ns}/${target}`;
    const holder = String(body.spec?.holderIdentity ?? '');
    const log = (code: number): void => {
      this.leaseWrites.push({ method: req.method, holder, status: code, annotations: body.metadata?.annotations ?? {} });
    };
    if (req.method === 'POST' && name === undefined) {
      if (this.#leases.has(key)) {
        log(409);
        return json(res, 409, status(409, 'AlreadyExists', `leases.coordination.k8s.io "${target}" already exists`, { name: target, group: 'coordination.k8s.io', kind: 'leases' }));
      }
      const o = { ...body, metadata: { ...body.metadata, namespace: ns, uid: randomUUID(), resourceVersion: String(++this.#rv), creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z') } };
      this.#leases.set(key, o);
      log(201);
      json(res, 201, o);
      this.#notifyLease();
      return;
    }
    if (req.method === 'PUT' && name !== undefined) {
      const current = this.#leases.get(key);
      if (current === undefined) {
        log(404);
        return json(res, 404, status(404, 'NotFound', `leases.coordination.k8s.io "${name}" not found`, { name, group: 'coordination.k8s.io', kind: 'leases' }));
      }
      if (body.metadata?.resourceVersion !== current.metadata.resourceVersion) {
        log(409);
        return json(
          res,
          409,
          status(409, 'Conflict', `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`, {
            name,
            group: 'coordination.k8s.io',
            kind: 'leases',
          }),
        );
      }
      const o = { ...body, metadata: { ...body.metadata, namespace: ns, uid: current.metadata.uid, resourceVersion: String(++this.#rv) } };
      this.#leases.set(key, o);
      log(200);
      json(res, 200, o);
      this.#notifyLease();
      return;
    }
    json(res, 405, status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
  }
}
