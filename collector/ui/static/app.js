// vxdoctor web page: root causes, mesh matrix (canvas), node detail; live via SSE, polling fallback.
import {
  aggregateLoss,
  ago,
  chainMtuMarks,
  fateText,
  groupNodes,
  layout,
  lossColor,
  pairLoss,
  placeText,
  sortRootCauses,
} from './logic.js';

// Above 200 nodes the matrix is group x group (click a cell to drill in). ?aggregate=off forces
// the node x node matrix at any size (bench, big screens); ?aggregate=on the group view.
const AGG_PARAM = new URLSearchParams(location.search).get('aggregate');
const AGG_ABOVE = AGG_PARAM === 'off' ? Number.POSITIVE_INFINITY : AGG_PARAM === 'on' ? 0 : 200;
const CELL_MIN = 3;
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const st = {
  path: 'vxlan',
  nodes: [],
  pairs: new Map(),
  groups: [],
  collapsed: new Set(),
  slots: [],
  agg: null,
  drill: null,
  cursor: [0, 0],
  label: 'rack',
  ok: true,
  nats: true,
  detail: null,
  firstRender: false,
};

function banner() {
  const b = $('banner');
  const msg = !st.ok
    ? 'Collector unreachable — data below is stale (last successful update shown).'
    : !st.nats
      ? 'Collector has lost its NATS connection — agent data is not arriving; the view may be stale.'
      : '';
  b.hidden = !msg;
  b.textContent = msg;
}

async function get(url) {
  const r = await fetch(url, { cache: 'no-store' });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

function evidence(ev) {
  const li = (xs) => xs.map((e) => `<li>${esc(e)}</li>`).join('');
  if (ev.length === 0) return '';
  if (ev.length <= 4) return `<ul>${li(ev)}</ul>`;
  return `<ul>${li(ev.slice(0, 3))}</ul><details><summary>${ev.length - 3} more evidence lines</summary><ul>${li(ev.slice(3))}</ul></details>`;
}

function renderCauses(d) {
  const el = $('causes-list');
  const rcs = sortRootCauses(d.rootCauses);
  if (rcs.length === 0) {
    el.innerHTML = `<p class="healthy" id="all-healthy">✓ All healthy — no root causes (${st.nodes.length} node${st.nodes.length === 1 ? '' : 's'}).</p>`;
    return;
  }
  el.innerHTML = rcs
    .map(
      (
        rc,
      ) => `<article class="rc ${esc(rc.severity)}" id="rc-${esc(rc.id)}" data-id="${esc(rc.id)}"><h3><span class="sev">${esc(rc.severity)}</span>${esc(rc.summary)}</h3>
<div class="meta">${esc(rc.kind)} · <b class="place">${esc(placeText(rc))}</b> · since ${esc(new Date(rc.since).toISOString().replace('T', ' ').slice(0, 19))} UTC (${esc(ago(rc.since))})</div>
${evidence(rc.evidence)}
${rc.remediation ? `<div>Fix: <button class="copy" aria-label="copy fix">copy</button></div><pre class="fix" tabindex="0">${esc(rc.remediation)}</pre>` : ''}</article>`,
    )
    .join('');
  for (const b of el.querySelectorAll('button.copy'))
    b.addEventListener('click', () => {
      const t = b.parentElement.nextElementSibling.textContent;
      navigator.clipboard?.writeText(t).then(
        () => (b.textContent = 'copied'),
        () => {},
      );
    });
  // An alert's rootcause_url (`<page>/#rc-<id>`) lands on that root cause once it is rendered.
  // Every render replaces the articles: mark it each time, scroll to it once.
  const want = decodeURIComponent(location.hash.slice(1));
  const a = want.startsWith('rc-') ? document.getElementById(want) : null;
  if (a) {
    a.classList.add('target');
    if (st.shownTarget !== want) a.scrollIntoView({ block: 'start' });
    st.shownTarget = want;
  }
}

function renderNodes() {
  const ul = $('node-list');
  ul.innerHTML = st.nodes
    .map(
      (n) =>
        `<li><button class="node ${n.state === 'up' ? '' : 'down'}" data-node="${esc(n.name)}" title="${esc(
          Object.entries(n.labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(' '),
        )}">${esc(n.name)}${n.state === 'up' ? '' : ' (down)'}${n.findings.critical ? ` ⚠${n.findings.critical}` : ''}</button></li>`,
    )
    .join('');
  for (const b of ul.querySelectorAll('button.node'))
    b.addEventListener('click', () => openNode(b.dataset.node));
  const g = $('groups');
  g.innerHTML = st.agg
    ? `<span class="hint">${st.nodes.length} nodes: ${esc(st.label)} × ${esc(st.label)} aggregate; click a cell to drill in.</span>${st.drill ? ' <button id="undrill">back to all groups</button>' : ''}`
    : st.groups
        .map(
          (x) =>
            `<button class="grp" data-group="${esc(x.group)}" aria-expanded="${!st.collapsed.has(x.group)}">${st.collapsed.has(x.group) ? '▸' : '▾'} ${esc(st.label)} ${esc(x.group)} (${x.nodes.length})</button>`,
        )
        .join('');
  for (const b of g.querySelectorAll('button.grp'))
    b.addEventListener('click', () => {
      const k = b.dataset.group;
      st.collapsed.has(k) ? st.collapsed.delete(k) : st.collapsed.add(k);
      st.slots = layout(st.groups, st.collapsed);
      renderNodes();
      $('groups')
        .querySelector(`button.grp[data-group="${CSS.escape(k)}"]`)
        ?.focus();
      drawMatrix();
    });
  $('undrill')?.addEventListener('click', () => {
    st.drill = null;
    refresh();
  });
}

async function openNode(name) {
  let d;
  try {
    d = await get(`/api/v1/nodes/${encodeURIComponent(name)}?tables=0`);
  } catch (e) {
    $('detail-body').textContent = `could not load ${name}: ${e.message}`;
    $('detail').hidden = false;
    return;
  }
  st.detail = name;
  $('detail').hidden = false;
  $('detail-h').textContent = `Node ${d.name}`;
  const labels = Object.entries(d.labels)
    .map(([k, v]) => `${esc(k)}=${esc(v)}`)
    .join(', ');
  const chains = d.chains.length
    ? d.chains
        .map((c) => {
          const m = chainMtuMarks(c);
          const hops = m.hops.map((h) => {
            const what =
              h.role === 'underlay'
                ? ` (underlay${h.address ? ` ${esc(h.address)}` : ''})`
                : h.role === 'vtep'
                  ? ' (VTEP)'
                  : '';
            const tip = [h.netns, h.kind, h.operstate, h.note].filter(Boolean).join(' ');
            return `<span class="hop ${h.role}${h.mismatch ? ' mismatch' : ''}" title="${esc(tip)}">${esc(h.dev)}${what} <b>MTU ${h.mtu}</b>${h.mismatch ? ` <em>${esc(h.note)}</em>` : ''}</span>`;
          });
          if (!m.hops.some((h) => h.role === 'vtep'))
            hops.push('<span class="hop mismatch">VTEP not found</span>');
          else if (!m.underlay) hops.push('<span class="hop mismatch">underlay not resolved</span>');
          return `<div class="chain" data-chain="${esc(c.id)}"><b>${esc(c.id)}</b>: ${hops.join(' → ')}</div>`;
        })
        .join('')
    : '<p>No overlay chains reported.</p>';
  const fl = d.findingList.length
    ? `<ul>${d.findingList.map((f) => `<li><span class="sev">${esc(f.severity)}</span>${esc(f.summary)}${f.remediation ? `<pre class="fix">${esc(f.remediation)}</pre>` : ''}</li>`).join('')}</ul>`
    : '<p>No findings.</p>';
  $('detail-body').innerHTML =
    `<p>Labels: ${labels || '—'} · agent ${esc(d.version ?? 'unknown')} · ${esc(d.state)} · last seen ${esc(ago(d.lastSeen))} (${esc(d.lastSeen)}) · underlay ${esc(d.underlay.join(', ') || '—')}</p>
<h3>Findings</h3>${fl}<h3>Overlay chains (container → veth → bridge → VTEP → underlay)</h3>${chains}`;
  $('detail-h').focus();
}

function palette() {
  const cs = getComputedStyle(document.documentElement);
  const v = (n) => cs.getPropertyValue(n).trim();
  return {
    ok: v('--ok'),
    part: v('--part'),
    bad: v('--bad'),
    none: v('--none'),
    fg: v('--fg'),
    line: v('--line'),
    focus: v('--focus'),
  };
}

// Matrix model: rows/cols = slots; value(i,j) => {loss, text}
function matrixModel() {
  if (st.agg && !st.drill) {
    const gs = st.agg.groupsList;
    return {
      n: gs.length,
      name: (i) => `${st.label} ${gs[i]}`,
      cell: (i, j) => {
        const g = st.agg.map.get(`${gs[i]} ${gs[j]}`);
        return {
          loss: g ? g.loss : null,
          text: g
            ? `${st.label} ${gs[i]} → ${gs[j]}: ${g.loss === null ? 'not probed yet' : `${Math.round(g.loss * 100)}% mean loss`} over ${g.probed}/${g.pairs} pairs probed${g.sent ? `, ${g.sent - g.answered}/${g.sent} probes lost in the window` : ''} (click to drill in)`
            : 'not probed yet',
          drill: [gs[i], gs[j]],
        };
      },
    };
  }
  const slots = st.slots;
  const members = (s) => (s.kind === 'node' ? [s.name] : s.nodes);
  const label = (s) => (s.kind === 'node' ? s.name : `${st.label} ${s.group} (${s.nodes.length})`);
  return {
    n: slots.length,
    cols: st.drill ? st.slotsCol : slots,
    name: (i) => label(slots[i]),
    cell: (i, j) => {
      const a = slots[i];
      const b = (st.drill ? st.slotsCol : slots)[j];
      if (a.kind === 'node' && b.kind === 'node') {
        if (a.name === b.name) return { loss: undefined, text: `${a.name} (self)` };
        const p = st.pairs.get(`${a.name} ${b.name}`);
        return {
          loss: pairLoss(p),
          text: p ? fateText(p, st.windowSeconds) : `${a.name} → ${b.name}: not probed yet`,
          node: [a.name, b.name],
        };
      }
      const loss = aggregateLoss(st.pairs, members(a), members(b));
      return {
        loss,
        text: `${label(a)} → ${label(b)}: ${loss === null ? 'not probed yet' : `${Math.round(loss * 100)}% mean loss`}`,
      };
    },
  };
}

let geo = null;
function drawMatrix() {
  const cv = $('matrix');
  const m = matrixModel();
  const cols = m.cols ?? null;
  const nr = m.n;
  const nc = cols ? cols.length : nr;
  const colName = (j) =>
    cols ? (cols[j].kind === 'node' ? cols[j].name : `${st.label} ${cols[j].group}`) : m.name(j);
  const cell = Math.max(CELL_MIN, Math.min(28, Math.floor(900 / Math.max(nr, nc, 1))));
  const showNames = cell >= 10;
  const ctx0 = cv.getContext('2d');
  ctx0.font = '11px system-ui, sans-serif';
  let lw = 0;
  for (let i = 0; i < nr; i++) lw = Math.max(lw, ctx0.measureText(m.name(i)).width);
  const left = showNames ? Math.ceil(lw) + 8 : 4;
  let cw = 0;
  for (let j = 0; j < nc; j++) cw = Math.max(cw, ctx0.measureText(colName(j)).width);
  const top = showNames ? Math.ceil(cw * 0.87) + 16 : 4;
  const dpr = window.devicePixelRatio || 1;
  const w = left + nc * cell + 4;
  const h = top + nr * cell + 4;
  cv.width = w * dpr;
  cv.height = h * dpr;
  cv.style.width = `${w}px`;
  cv.style.height = `${h}px`;
  const ctx = cv.getContext('2d');
  ctx.scale(dpr, dpr);
  const pal = palette();
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = pal.fg;
  if (showNames) {
    ctx.textBaseline = 'middle';
    for (let i = 0; i < nr; i++) ctx.fillText(m.name(i), 2, top + i * cell + cell / 2);
    for (let j = 0; j < nc; j++) {
      ctx.save();
      ctx.translate(left + j * cell + cell / 2, top - 4);
      ctx.rotate(-Math.PI / 3);
      ctx.fillText(colName(j), 0, 0);
      ctx.restore();
    }
  }
  const gap = cell >= 6 ? 1 : 0;
  for (let i = 0; i < nr; i++)
    for (let j = 0; j < nc; j++) {
      const c = m.cell(i, j);
      if (c.loss === undefined) continue;
      ctx.fillStyle = lossColor(c.loss, pal);
      ctx.fillRect(left + j * cell, top + i * cell, cell - gap, cell - gap);
    }
  geo = { left, top, cell, nr, nc, m };
  st.cursor = [Math.min(st.cursor[0], nr - 1), Math.min(st.cursor[1], nc - 1)];
  if (document.activeElement === cv) drawCursor();
  else if ($('tip').hidden) $('cell-info').textContent = ''; // no stale text from another view
  cv.setAttribute('aria-label', `probe matrix, ${st.path} path, ${nr} × ${nc}; arrow keys move, Enter opens`);
}

function drawCursor() {
  if (!geo) return;
  const [i, j] = st.cursor;
  const ctx = $('matrix').getContext('2d');
  ctx.strokeStyle = palette().focus;
  ctx.lineWidth = 2;
  ctx.strokeRect(geo.left + j * geo.cell - 1, geo.top + i * geo.cell - 1, geo.cell + 1, geo.cell + 1);
  showTip(i, j, geo.left + (j + 1) * geo.cell, geo.top + (i + 1) * geo.cell);
}

function showTip(i, j, x, y) {
  const c = geo.m.cell(i, j);
  const tip = $('tip');
  tip.textContent = c.text;
  tip.hidden = false;
  tip.style.left = `${x + 8}px`;
  tip.style.top = `${y + 8}px`;
  $('cell-info').textContent = c.text;
}

function hit(ev) {
  const r = $('matrix').getBoundingClientRect();
  const j = Math.floor((ev.clientX - r.left - geo.left) / geo.cell);
  const i = Math.floor((ev.clientY - r.top - geo.top) / geo.cell);
  return i >= 0 && j >= 0 && i < geo.nr && j < geo.nc ? [i, j] : null;
}

function activate(i, j) {
  const c = geo.m.cell(i, j);
  if (c.drill) {
    st.drill = c.drill;
    refresh();
  } else if (c.node) openNode(c.node[0]);
}

function wireMatrix() {
  const cv = $('matrix');
  cv.addEventListener('mousemove', (ev) => {
    const h = geo && hit(ev);
    if (!h) {
      $('tip').hidden = true;
      return;
    }
    showTip(h[0], h[1], ev.offsetX, ev.offsetY);
  });
  cv.addEventListener('mouseleave', () => {
    $('tip').hidden = true;
    if (document.activeElement !== cv) $('cell-info').textContent = '';
  });
  cv.addEventListener('click', (ev) => {
    const h = geo && hit(ev);
    if (h) {
      st.cursor = h;
      activate(h[0], h[1]);
    }
  });
  cv.addEventListener('focus', () => {
    drawMatrix();
    drawCursor();
  });
  cv.addEventListener('blur', () => {
    $('tip').hidden = true;
    drawMatrix();
  });
  cv.addEventListener('keydown', (ev) => {
    if (!geo) return;
    const [i, j] = st.cursor;
    const mv = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[ev.key];
    if (mv) {
      ev.preventDefault();
      st.cursor = [
        Math.max(0, Math.min(geo.nr - 1, i + mv[0])),
        Math.max(0, Math.min(geo.nc - 1, j + mv[1])),
      ];
      drawMatrix();
      drawCursor();
    } else if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      activate(i, j);
    }
  });
  const tabs = [...document.querySelectorAll('[role=tab]')];
  const select = (t) => {
    for (const x of tabs) {
      x.setAttribute('aria-selected', String(x === t));
      x.tabIndex = x === t ? 0 : -1;
    }
    st.path = t.dataset.path;
    refresh();
  };
  for (const t of tabs) {
    t.addEventListener('click', () => select(t));
    t.addEventListener('keydown', (ev) => {
      const k = { ArrowRight: 1, ArrowLeft: -1 }[ev.key];
      if (!k) return;
      const n = tabs[(tabs.indexOf(t) + k + tabs.length) % tabs.length];
      n.focus();
      select(n);
    });
  }
}

let busy = false;
let again = false;
async function refresh() {
  if (busy) {
    again = true;
    return;
  }
  busy = true;
  try {
    const [d, nodes] = await Promise.all([get('/api/v1/diagnosis'), get('/api/v1/nodes')]);
    st.nodes = nodes;
    const agg = nodes.length > AGG_ABOVE;
    const q = !agg
      ? ''
      : st.drill
        ? `&from=${encodeURIComponent(st.drill[0])}&to=${encodeURIComponent(st.drill[1])}`
        : '&aggregate=group';
    const pr = await get(`/api/v1/pairs?path=${st.path}${q}`);
    st.label = pr.groupLabel;
    st.windowSeconds = pr.windowSeconds;
    st.groups = groupNodes(nodes, st.label);
    st.pairs = new Map(pr.pairs.map((p) => [`${p.src} ${p.dst}`, p]));
    if (agg) {
      const map = new Map((pr.groups ?? []).map((g) => [`${g.from} ${g.to}`, g]));
      st.agg = { groupsList: st.groups.map((g) => g.group), map };
      if (st.drill) {
        const byG = new Map(st.groups.map((g) => [g.group, g]));
        st.slots = layout([byG.get(st.drill[0])].filter(Boolean), new Set());
        st.slotsCol = layout([byG.get(st.drill[1])].filter(Boolean), new Set());
      }
    } else {
      st.agg = null;
      st.drill = null;
      st.slots = layout(st.groups, st.collapsed);
    }
    st.ok = true;
    renderCauses(d);
    renderNodes();
    drawMatrix();
    if (st.detail) openNodeQuiet(st.detail);
    $('status').textContent =
      `updated ${new Date().toLocaleTimeString()} · ${nodes.length} nodes · ${d.rootCauses.length} root causes`;
    if (!st.firstRender) {
      st.firstRender = true;
      performance.mark('vx-first-render');
      document.body.dataset.rendered = '1';
    }
    document.body.dataset.generation = String((Number(document.body.dataset.generation) || 0) + 1);
  } catch (e) {
    st.ok = false;
    $('status').textContent = `update failed: ${e.message}`;
  } finally {
    busy = false;
    banner();
    if (again) {
      again = false;
      refresh();
    }
  }
}

function openNodeQuiet(name) {
  const f = document.activeElement;
  openNode(name).then(() => f?.focus?.());
}

// Coalesce change events: at most one refresh per 0.5 s (3 s in the large-cluster view).
let lastRefresh = 0;
let refreshTimer = null;
function scheduleRefresh() {
  if (refreshTimer) return;
  const minGap = st.nodes.length > AGG_ABOVE ? 3000 : 500;
  const wait = Math.max(0, minGap - (Date.now() - lastRefresh));
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    lastRefresh = Date.now();
    refresh();
  }, wait);
}

function live() {
  let pollTimer = null;
  const poll = () => {
    if (!pollTimer) pollTimer = setInterval(refresh, 5000);
  };
  if (!('EventSource' in window)) return poll();
  const es = new EventSource('/api/v1/events');
  let lastGen = -1;
  es.addEventListener('state', (ev) => {
    clearInterval(pollTimer);
    pollTimer = null;
    const s = JSON.parse(ev.data);
    st.nats = s.natsConnected;
    if (!st.ok || s.generation !== lastGen) {
      lastGen = s.generation;
      scheduleRefresh();
    }
    banner();
  });
  es.addEventListener('error', () => {
    st.ok = false;
    banner();
    poll();
  });
}

performance.mark('vx-start');
wireMatrix();
refresh();
live();
