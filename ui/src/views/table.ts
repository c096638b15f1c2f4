import { html } from 'htm/preact';
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { apiGet, type Entity, type EntityPage } from '../api.js';
import { bytes, cores } from '../format.js';
import { entityHref, TYPE_LABEL } from '../router.js';
import { Failure, HealthBadge, Loading, Message, UsageBar } from './common.js';

/**
 * One level's table: pages of entities from the server (100 a request, the next asked for as
 * the user scrolls near the end) and only the rows in view in the DOM, so 5,000 pods scroll as
 * smoothly as 50.
 */

const ROW_HEIGHT = 40;
const PAGE = 100;
const OVERSCAN = 8;

const NAMESPACED = new Set(['workload', 'pod', 'container', 'namespace']);

function parentOf(e: Entity, type: string): string {
  return e.parents.find((p) => p.type === type)?.name ?? '';
}

export function EntityTable(props: { type: string; q: string; ns: string; parent?: string; reloadKey: number; label?: string }) {
  const [items, setItems] = useState<Entity[]>([]);
  const [total, setTotal] = useState<number | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const cursor = useRef<string | null>(null);
  const loading = useRef(false);
  const generation = useRef(0);
  const box = useRef<HTMLDivElement>(null);

  const load = useCallback(
    async (first: boolean) => {
      if (loading.current && !first) return;
      const gen = first ? ++generation.current : generation.current;
      loading.current = true;
      try {
        const page = await apiGet<EntityPage>('/entities', {
          type: props.type,
          q: props.q,
          namespace: props.ns,
          parent: props.parent,
          limit: PAGE,
          cursor: first ? undefined : cursor.current,
        });
        if (gen !== generation.current) return;
        cursor.current = page.nextCursor;
        setTotal(page.total);
        setItems((prev) => (first ? page.items : prev.concat(page.items)));
        setError(undefined);
      } catch (err) {
        if (gen === generation.current) setError(err);
      } finally {
        if (gen === generation.current) loading.current = false;
      }
    },
    [props.type, props.q, props.ns, props.parent],
  );

  useEffect(() => {
    cursor.current = null;
    setItems([]);
    setTotal(undefined);
    setScrollTop(0);
    if (box.current !== null) box.current.scrollTop = 0;
    void load(true);
  }, [load, props.reloadKey]);

  useLayoutEffect(() => {
    const el = box.current;
    if (el === null) return;
    const measure = (): void => setHeight(el.clientHeight || 600);
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [total === undefined]);

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(items.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  useEffect(() => {
    if (cursor.current !== null && last >= items.length - OVERSCAN * 2) void load(false);
  }, [last, items.length, load]);

  if (error !== undefined && items.length === 0) return html`<${Failure} error=${error} what=${`the ${TYPE_LABEL[props.type] ?? props.type} list`} onRetry=${() => void load(true)} />`;
  if (total === undefined) return html`<${Loading} what=${`${(TYPE_LABEL[props.type] ?? props.type).toLowerCase()}s`} />`;
  if (total === 0) {
    return html`<${Message} kind="info" title=${`No ${(TYPE_LABEL[props.type] ?? props.type).toLowerCase()}s${props.q !== '' ? ` matching “${props.q}”` : ''}`}>
      <p>Nothing of this kind has reported to this gateway in its retention window.</p>
    <//>`;
  }
  const showNs = NAMESPACED.has(props.type) && props.type !== 'namespace';
  const showNode = props.type === 'pod' || props.type === 'process_group';
  const rows = [];
  for (let i = first; i < last; i++) {
    const e = items[i]!;
    const b = e.bounds;
    rows.push(html`<div class="tr" role="row" key=${e.id} style=${{ transform: `translateY(${i * ROW_HEIGHT}px)` }} data-entity=${e.id}>
      <span class="td name" role="cell"><a href=${entityHref(e.id)}>${e.name}</a></span>
      <span class="td" role="cell"><${HealthBadge} health=${e.health} /></span>
      ${showNs ? html`<span class="td muted" role="cell">${e.namespace ?? ''}</span>` : null}
      ${showNode ? html`<span class="td muted" role="cell">${parentOf(e, 'host')}</span>` : null}
      <span class="td" role="cell"><${UsageBar} value=${e.metrics.cpu?.value ?? null} request=${b.cpuRequest} limit=${b.cpuLimit} text=${cores(e.metrics.cpu?.value)} /></span>
      <span class="td" role="cell"><${UsageBar} value=${e.metrics.memory?.value ?? null} request=${b.memoryRequest} limit=${b.memoryLimit} text=${bytes(e.metrics.memory?.value)} /></span>
    </div>`);
  }
  const cols = `cols-${2 + (showNs ? 1 : 0) + (showNode ? 1 : 0) + 2}`;
  return html`<div class=${`table ${cols}`} role="table" aria-label=${props.label ?? `${TYPE_LABEL[props.type] ?? props.type} list`} aria-rowcount=${total}>
    <div class="thead" role="rowgroup"><div class="tr head" role="row">
      <span class="th" role="columnheader">Name</span>
      <span class="th" role="columnheader">Health</span>
      ${showNs ? html`<span class="th" role="columnheader">Namespace</span>` : null}
      ${showNode ? html`<span class="th" role="columnheader">Node</span>` : null}
      <span class="th" role="columnheader">CPU (cores) vs limit</span>
      <span class="th" role="columnheader">Memory vs limit</span>
    </div></div>
    <div class="tbody" role="rowgroup" ref=${box} style=${{ height: `min(${total * ROW_HEIGHT + 2}px, calc(100vh - 230px))` }} onScroll=${(ev: Event) => setScrollTop((ev.currentTarget as HTMLElement).scrollTop)}>
      <div class="spacer" style=${{ height: `${total * ROW_HEIGHT}px` }}>${rows}</div>
    </div>
    <p class="table-foot muted">${items.length < total ? `${items.length} of ${total} loaded; scroll for more` : `${total} in all`}</p>
  </div>`;
}
