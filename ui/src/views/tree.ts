import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { apiGet, type EntityDetail, type EntityPage, type EntityRef } from '../api.js';
import { entityHref } from '../router.js';

/**
 * The tree in the side bar: nodes, each opening to its pods (and process groups), each pod to its
 * containers. Children are asked for when a branch is opened, never before.
 */

const BELOW: Readonly<Record<string, readonly string[]>> = { host: ['pod', 'process_group'], pod: ['container'], cluster: ['host'] };

function Branch(props: { node: EntityRef; current: string | undefined; depth: number }) {
  const [open, setOpen] = useState(false);
  const [children, setChildren] = useState<EntityRef[] | undefined>(undefined);
  const kinds = BELOW[props.node.type];
  useEffect(() => {
    if (!open || children !== undefined) return;
    apiGet<EntityDetail>(`/entities/${props.node.id}`)
      .then((d) => setChildren(d.children.filter((c) => kinds?.includes(c.type) === true)))
      .catch(() => setChildren([]));
  }, [open]);
  return html`<li role="treeitem" aria-expanded=${kinds !== undefined ? open : undefined} aria-level=${props.depth}>
    ${kinds !== undefined
      ? html`<button type="button" class="twisty" aria-label=${`${open ? 'Close' : 'Open'} ${props.node.name}`} onClick=${() => setOpen(!open)}>${open ? '▾' : '▸'}</button>`
      : html`<span class="twisty" aria-hidden="true"></span>`}
    <a href=${entityHref(props.node.id)} aria-current=${props.current === props.node.id ? 'page' : undefined}>${props.node.name}</a>
    ${open && children !== undefined && children.length > 0
      ? html`<ul role="group">${children.slice(0, 200).map((c) => html`<${Branch} key=${c.id} node=${c} current=${props.current} depth=${props.depth + 1} />`)}</ul>`
      : null}
  </li>`;
}

export function Tree(props: { current: string | undefined; reloadKey: number }) {
  // Closed until asked for: the node list with its figures is not worth a query on every page.
  const [open, setOpen] = useState(false);
  const [nodes, setNodes] = useState<EntityRef[] | undefined>(undefined);
  useEffect(() => {
    if (!open) return;
    apiGet<EntityPage>('/entities', { type: 'host', limit: 100 })
      .then((p) => setNodes(p.items))
      .catch(() => setNodes([]));
  }, [open, props.reloadKey]);
  return html`<div class="tree-box">
    <button type="button" class="tree-toggle" aria-expanded=${open} onClick=${() => setOpen(!open)}>${open ? '▾' : '▸'} Browse nodes</button>
    ${open && nodes !== undefined && nodes.length === 0 ? html`<p class="muted">No nodes.</p>` : null}
    ${open && nodes !== undefined && nodes.length > 0
      ? html`<ul class="tree" role="tree" aria-label="Nodes, pods and containers">
          ${nodes.map((n) => html`<${Branch} key=${n.id} node=${n} current=${props.current} depth=${1} />`)}
        </ul>`
      : null}
  </div>`;
}
