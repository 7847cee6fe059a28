// Pure page logic (no DOM): importable by node unit tests.
const SEV = { critical: 0, warning: 1, info: 2 };

/** Root causes sorted by severity, then oldest first. */
export function sortRootCauses(rcs) {
  return [...rcs].sort(
    (a, b) =>
      (SEV[a.severity] ?? 9) - (SEV[b.severity] ?? 9) ||
      a.since.localeCompare(b.since) ||
      a.id.localeCompare(b.id),
  );
}

/** Where a root cause is: "rack A ↔ rack B" for a segment, else the node list. */
export function placeText(rc) {
  if (rc.segment) return `${rc.segment.label} ${rc.segment.from} ↔ ${rc.segment.label} ${rc.segment.to}`;
  if (rc.nodes.length === 0) return 'cluster';
  return rc.nodes.length > 6
    ? `${rc.nodes.slice(0, 6).join(', ')} +${rc.nodes.length - 6} more`
    : rc.nodes.join(', ');
}

/** Loss class: 'none' (not probed), 'ok', 'part', 'bad'. */
export function lossClass(loss) {
  if (loss === null || loss === undefined) return 'none';
  if (loss <= 0) return 'ok';
  if (loss >= 1) return 'bad';
  return 'part';
}

/** Cell colour for a loss ratio given a palette {ok, part, bad, none}; partial loss blends part->bad. */
export function lossColor(loss, pal) {
  const c = lossClass(loss);
  if (c !== 'part') return pal[c];
  return loss >= 0.5 ? pal.bad : pal.part;
}

/** Hover/focus text of one pair. */
export function fateText(p) {
  if (!p || p.sent === 0 || p.loss === null) return `${p ? `${p.src} → ${p.dst}` : ''}: not probed yet`;
  const pct = `${Math.round(p.loss * 100)}% loss (${p.sent - p.answered}/${p.sent})`;
  const rtt = p.rttSeconds === null ? 'no RTT' : `RTT ${(p.rttSeconds * 1000).toFixed(2)} ms`;
  return `${p.src} → ${p.dst} [${p.path}]: ${pct}, ${rtt}; ${p.fate || 'no hop record'}`;
}

/** Nodes grouped by a label: [{group, nodes: [name...]}] sorted by group then name. */
export function groupNodes(nodes, label) {
  const m = new Map();
  for (const n of nodes) {
    const g = n.labels?.[label] ?? '(none)';
    if (!m.has(g)) m.set(g, []);
    m.get(g).push(n.name);
  }
  return [...m.keys()].sort().map((g) => ({ group: g, nodes: m.get(g).sort() }));
}

/** Mean loss over probed pairs among `srcs` x `dsts` (pair lookup "src dst"); null if none probed. */
export function aggregateLoss(lookup, srcs, dsts) {
  let sum = 0;
  let n = 0;
  for (const s of srcs)
    for (const d of dsts) {
      if (s === d) continue;
      const p = lookup.get(`${s} ${d}`);
      if (p && p.loss !== null) {
        sum += p.loss;
        n++;
      }
    }
  return n === 0 ? null : sum / n;
}

/**
 * Rows/columns of the matrix: each node of an expanded group, or one entry per collapsed group.
 * [{kind:'node', name, group} | {kind:'group', group, nodes}]
 */
export function layout(groups, collapsed) {
  const out = [];
  for (const g of groups) {
    if (collapsed.has(g.group)) out.push({ kind: 'group', group: g.group, nodes: g.nodes });
    else for (const n of g.nodes) out.push({ kind: 'node', name: n, group: g.group });
  }
  return out;
}

/** Marks MTU mismatches along a chain: hop i is flagged when its MTU differs from the workload's (hop 0). Underlay must be >= overlay + 50. */
export function chainMtuMarks(chain) {
  const first = chain.hops[0]?.mtu ?? null;
  const hops = chain.hops.map((h) => ({
    ...h,
    mismatch: first !== null && h.kind !== 'vxlan' && h.mtu !== first,
  }));
  const vx = chain.hops.find((h) => h.kind === 'vxlan');
  for (const h of hops) if (vx && h.kind === 'vxlan' && first !== null && h.mtu < first) h.mismatch = true;
  const underlay = chain.underlay
    ? { ...chain.underlay, mismatch: first !== null && chain.underlay.mtu < first + 50 }
    : null;
  return { hops, underlay };
}

/** "3 s ago" style age. */
export function ago(iso, now = Date.now()) {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
