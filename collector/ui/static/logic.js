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

/**
 * True when the pair's latest probe was sent and failed (no answer, or a PMTU probe whose largest
 * passing size is below the required one): the pair is failing now, whatever its loss over the
 * collector's window (which takes a minute or more to climb after an outage starts).
 */
export function failingNow(p) {
  const l = p?.last;
  if (!l?.sent) return false;
  if (!l.answered) return true;
  return !!l.pmtu && (l.pmtu.largestPassing === null || l.pmtu.largestPassing < l.pmtu.required);
}

/** The loss a cell is coloured by: null not probed, 1 when failing now, else the window loss. */
export function pairLoss(p) {
  if (!p || p.loss === null || p.loss === undefined) return null;
  return failingNow(p) ? 1 : p.loss;
}

/** Hover/focus text of one pair. */
export function fateText(p, windowSeconds) {
  if (!p || p.sent === 0 || p.loss === null) return `${p ? `${p.src} → ${p.dst}` : ''}: not probed yet`;
  const win = windowSeconds
    ? ` probes in the last ${windowSeconds % 60 === 0 ? `${windowSeconds / 60} min` : `${windowSeconds} s`}`
    : '';
  const pct = `${Math.round(p.loss * 100)}% loss (${p.sent - p.answered}/${p.sent}${win})`;
  const rtt = p.rttSeconds === null ? 'no RTT' : `RTT ${(p.rttSeconds * 1000).toFixed(2)} ms`;
  const now = failingNow(p) && p.loss < 1 ? 'failing now: ' : '';
  return `${p.src} → ${p.dst} [${p.path}]: ${pct}, ${rtt}; ${now}${p.fate || 'no hop record'}`;
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

/** Mean loss (as coloured: pairLoss) over probed pairs among `srcs` x `dsts` (lookup "src dst"); null if none probed. */
export function aggregateLoss(lookup, srcs, dsts) {
  let sum = 0;
  let n = 0;
  for (const s of srcs)
    for (const d of dsts) {
      if (s === d) continue;
      const p = lookup.get(`${s} ${d}`);
      const l = pairLoss(p);
      if (l !== null) {
        sum += l;
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

/** VXLAN overhead an underlay MTU must leave room for: outer IPv4 20 / IPv6 40 + UDP 8 + VXLAN 8 + inner Ethernet 14. */
export const VXLAN_OVERHEAD = { ipv4: 50, ipv6: 70 };

/**
 * MTU marks along an overlay chain, hops ordered from the workload outwards (container eth0 →
 * veth peer → bridge → VTEP → underlay NIC, as agents report them). The VTEP is the reference:
 * - a hop before the VTEP is marked when its MTU is larger than the VTEP's (the VTEP drops the
 *   big frames) or smaller than what reaches it from the hops before (it drops those frames);
 * - the underlay NIC is marked when its MTU is below VTEP MTU + encapsulation overhead
 *   (50 bytes over IPv4, 70 over IPv6). Larger is fine (1500 under a 1450 overlay is the norm).
 * Agents report the underlay NIC as the last hop and again as `chain.underlay`; it is returned
 * once, as a hop with role 'underlay'. A chain whose hops stop at the VTEP (older agents) gets
 * `chain.underlay` appended as that hop. Without a VTEP nothing can be compared: no marks.
 */
export function chainMtuMarks(chain) {
  const src = chain.hops;
  let vi = chain.vtep ? src.findIndex((h) => h.dev === chain.vtep.dev && h.netns === chain.vtep.netns) : -1;
  if (vi < 0) vi = src.findIndex((h) => h.kind === 'vxlan');
  const vtepMtu = vi >= 0 ? src[vi].mtu : null;
  const u = chain.underlay;
  const overhead = u?.address?.includes(':') ? VXLAN_OVERHEAD.ipv6 : VXLAN_OVERHEAD.ipv4;
  const need = vtepMtu === null ? null : vtepMtu + overhead;
  // The underlay hop: after the VTEP, named like chain.underlay (else the last hop after the VTEP).
  let ui = -1;
  if (vi >= 0) {
    for (let i = src.length - 1; i > vi; i--)
      if (!u || src[i].dev === u.dev) {
        ui = i;
        break;
      }
  }
  const note = (h, i) => {
    if (i === ui) return need !== null && h.mtu < need ? `too small (needs ≥ ${need})` : '';
    if (vi < 0 || i >= vi) return '';
    if (h.mtu > vtepMtu) return `> VTEP MTU ${vtepMtu}`;
    if (i === 0) return '';
    // what reaches this hop: the smallest MTU before it (bigger-than-VTEP hops are marked themselves)
    const before = Math.min(vtepMtu, ...src.slice(0, i).map((x) => x.mtu));
    return h.mtu < before ? `< MTU ${before} before it` : '';
  };
  const role = (i) => (i === vi ? 'vtep' : i === ui ? 'underlay' : 'hop');
  const hops = src.map((h, i) => {
    const n = note(h, i);
    return {
      ...h,
      role: role(i),
      mismatch: n !== '',
      note: n,
      address: i === ui ? (u?.address ?? null) : null,
    };
  });
  if (ui < 0 && u) {
    const n = need !== null && u.mtu < need ? `too small (needs ≥ ${need})` : '';
    hops.push({
      netns: '',
      dev: u.dev,
      kind: 'underlay',
      mtu: u.mtu,
      operstate: '',
      role: 'underlay',
      mismatch: n !== '',
      note: n,
      address: u.address,
    });
  }
  const uh = hops.find((h) => h.role === 'underlay');
  const underlay = uh ? { dev: uh.dev, mtu: uh.mtu, address: uh.address, mismatch: uh.mismatch } : null;
  return { hops, underlay, vtepMtu, need };
}

/** "3 s ago" style age. */
export function ago(iso, now = Date.now()) {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
