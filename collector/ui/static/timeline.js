// vxdoctor web page, history views: outage timeline (24 h / 7 d, one row per root cause, bars
// coloured by severity, hover for place and fix, click opens the verdict) and segment loss/RTT
// over time (group x group grid of the worst loss in the window; a cell opens its chart and the
// pairs with their hop fates). Charts by uPlot, served by the collector (/vendor/uplot/).
import uPlot from '/vendor/uplot/uPlot.esm.js';
import {
  barAt,
  defaultSegment,
  durationText,
  nthThisWeek,
  segmentGrid,
  timelineRows,
} from './history-logic.js';
import { fateText, lossClass } from './logic.js';

const RANGES = { '24h': 86400_000, '7d': 7 * 86400_000 };
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const utc = (ms) => `${new Date(ms).toISOString().replace('T', ' ').slice(0, 19)} UTC`;
const hs = {
  range: '24h',
  week: [],
  rows: [],
  now: Date.now(),
  tl: null,
  seg: null,
  segChart: null,
  pairs: null,
  grid: null,
  label: 'rack',
  rendered: false,
};

function pal() {
  const cs = getComputedStyle(document.documentElement);
  const v = (n) => cs.getPropertyValue(n).trim();
  return {
    critical: v('--crit'),
    warning: v('--warn'),
    info: v('--info'),
    ok: v('--ok'),
    part: v('--part'),
    bad: v('--bad'),
    none: v('--none'),
    fg: v('--fg'),
    mut: v('--mut'),
    line: v('--line'),
  };
}

async function get(url) {
  const r = await fetch(url, { cache: 'no-store' });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

function mount() {
  const root = $('history-root');
  if (!root) return false;
  root.innerHTML = `<div class="hist-bar" role="group" aria-label="History range">
<button type="button" data-range="24h" aria-pressed="true">24 h</button><button type="button" data-range="7d" aria-pressed="false">7 d</button>
<span id="hist-count" aria-live="polite"></span></div>
<div id="timeline-wrap"><div id="tl-labels" aria-hidden="true"></div><div id="timeline" role="img" aria-label="outage timeline"></div><div id="hist-tip" role="tooltip" hidden></div></div>
<ol id="outage-list"></ol>
<div id="outage-detail" hidden></div>
<h3 id="seg-h">Segments over time <span class="hint">(VXLAN port; cell = worst loss in the window, click for loss and RTT)</span></h3>
<div id="seg-grid"></div>
<div id="seg-chart"></div>
<div id="seg-pairs"></div>`;
  for (const b of root.querySelectorAll('button[data-range]'))
    b.addEventListener('click', () => {
      hs.range = b.dataset.range;
      for (const x of root.querySelectorAll('button[data-range]'))
        x.setAttribute('aria-pressed', String(x === b));
      refresh();
    });
  return true;
}

// --- outage timeline ---------------------------------------------------------------------

const ROW_H = 22;
const LABEL_W = 240;

function drawBars(u) {
  const p = pal();
  const ctx = u.ctx;
  const dpr = devicePixelRatio || 1;
  const { left, top, width } = u.bbox;
  ctx.save();
  hs.rows.forEach((r, i) => {
    const y = top + i * ROW_H * dpr;
    ctx.fillStyle = p.line;
    ctx.fillRect(left, y + ROW_H * dpr - 1, width, 1);
    for (const b of r.bars) {
      const x0 = u.valToPos(b.x0 / 1000, 'x', true);
      const x1 = u.valToPos(b.x1 / 1000, 'x', true);
      ctx.fillStyle = p[b.outage.severity] ?? p.mut;
      ctx.fillRect(x0, y + 4 * dpr, Math.max(3 * dpr, x1 - x0), (ROW_H - 8) * dpr);
      if (b.outage.open) {
        ctx.fillStyle = p.fg;
        ctx.fillRect(Math.max(x0, x1 - 2 * dpr), y + 2 * dpr, 2 * dpr, (ROW_H - 4) * dpr);
      }
    }
  });
  ctx.restore();
}

function timelineAt(u, ev) {
  const r = u.over.getBoundingClientRect();
  const x = ev.clientX - r.left;
  const row = Math.floor((ev.clientY - r.top) / ROW_H);
  const t = u.posToVal(x, 'x') * 1000;
  const msPerPx = (RANGES[hs.range] ?? 1) / Math.max(1, r.width);
  return barAt(hs.rows, row, t, 4 * msPerPx);
}

function outageText(o) {
  const end = o.end ? utc(Date.parse(o.end)) : 'still open';
  return `${o.severity} ${o.kind} at ${o.place}: ${utc(Date.parse(o.start))} → ${end} (${durationText(o.durationSeconds)}). ${o.summary}${o.remediation ? ` — fix: ${o.remediation}` : ''}`;
}

function drawTimeline() {
  const el = $('timeline');
  const span = RANGES[hs.range];
  const from = hs.now - span;
  hs.rows = timelineRows(hs.week, from, hs.now, hs.now);
  const width = Math.max(320, Math.min(1400, (el.parentElement.clientWidth || 900) - LABEL_W));
  const height = Math.max(1, hs.rows.length) * ROW_H + 30;
  const labels = $('tl-labels');
  labels.innerHTML = hs.rows.length
    ? hs.rows
        .map(
          (r) =>
            `<div class="tl-row ${esc(r.severity)}" title="${esc(`${r.kind} at ${r.place}`)}"><b>${esc(r.place)}</b> · ${esc(r.kind)}</div>`,
        )
        .join('')
    : '<div class="tl-row hint">no outages</div>';
  const opts = {
    width,
    height,
    padding: [0, 12, 0, 4],
    legend: { show: false },
    cursor: { y: false, points: { show: false }, drag: { x: false, y: false } },
    scales: { x: { time: true, range: [from / 1000, hs.now / 1000] }, y: { range: [0, 1] } },
    axes: [{ size: 30, stroke: pal().mut, grid: { stroke: pal().line, width: 1 } }, { show: false }],
    series: [{}, { show: false }],
    hooks: { draw: [drawBars] },
  };
  const data = [
    [from / 1000, hs.now / 1000],
    [null, null],
  ];
  hs.tl?.destroy();
  el.textContent = '';
  hs.tl = new uPlot(opts, data, el);
  const u = hs.tl;
  const tip = $('hist-tip');
  u.over.addEventListener('mousemove', (ev) => {
    const b = timelineAt(u, ev);
    if (!b) {
      tip.hidden = true;
      u.over.style.cursor = '';
      return;
    }
    u.over.style.cursor = 'pointer';
    tip.textContent = outageText(b.outage);
    tip.hidden = false;
    const wr = $('timeline-wrap').getBoundingClientRect();
    tip.style.left = `${Math.min(ev.clientX - wr.left + 12, wr.width - 320)}px`;
    tip.style.top = `${ev.clientY - wr.top + 12}px`;
  });
  u.over.addEventListener('mouseleave', () => {
    tip.hidden = true;
  });
  u.over.addEventListener('click', (ev) => {
    const b = timelineAt(u, ev);
    if (b) openOutage(b.outage);
  });
  el.setAttribute(
    'aria-label',
    `outage timeline, last ${hs.range === '24h' ? '24 hours' : '7 days'}: ${hs.rows.length} root cause${hs.rows.length === 1 ? '' : 's'} (listed below)`,
  );
}

function renderList() {
  const span = RANGES[hs.range];
  const from = hs.now - span;
  const list = hs.week.filter((o) => (o.end === null ? hs.now : Date.parse(o.end)) >= from);
  $('hist-count').textContent = list.length
    ? `${list.length} outage${list.length === 1 ? '' : 's'}, ${list.filter((o) => o.open).length} open`
    : `no outages in the last ${hs.range === '24h' ? '24 hours' : '7 days'}`;
  $('outage-list').innerHTML = list
    .slice(0, 200)
    .map(
      (o) =>
        `<li><button type="button" class="outage ${esc(o.severity)}" data-outage="${esc(o.outage)}"><span class="sev">${esc(o.severity)}</span>${esc(o.kind)} at <b>${esc(o.place)}</b> · ${esc(utc(Date.parse(o.start)))} → ${o.end ? esc(utc(Date.parse(o.end))) : '<em>open</em>'} (${esc(durationText(o.durationSeconds))})</button></li>`,
    )
    .join('');
  for (const b of $('outage-list').querySelectorAll('button.outage'))
    b.addEventListener('click', () => {
      const o = hs.week.find((x) => x.outage === b.dataset.outage);
      if (o) openOutage(o);
    });
}

/** Opens the verdict: the live root cause when it is still active, else the recorded one. */
function openOutage(o) {
  const live = o.open ? document.querySelector(`article.rc[data-id="${CSS.escape(o.id)}"]`) : null;
  const d = $('outage-detail');
  if (live) {
    d.hidden = true;
    live.scrollIntoView({ block: 'center' });
    live.classList.add('flash');
    live.tabIndex = -1;
    live.focus();
    setTimeout(() => live.classList.remove('flash'), 1600);
    return;
  }
  const ev = o.evidence ?? [];
  d.innerHTML = `<article class="rc ${esc(o.severity)}" data-outage="${esc(o.outage)}"><h3><span class="sev">${esc(o.severity)}</span>${esc(o.summary)}</h3>
<div class="meta">${esc(o.kind)} · <b class="place">${esc(o.place)}</b> · ${esc(utc(Date.parse(o.start)))} → ${o.end ? esc(utc(Date.parse(o.end))) : 'open'} (${esc(durationText(o.durationSeconds))})${o.changes ? ` · changed ${o.changes}×` : ''}</div>
${ev.length ? `<div>Evidence at its worst (${esc(utc(Date.parse(o.worst.at)))}):</div><ul>${ev.map((e) => `<li>${esc(e)}</li>`).join('')}</ul>` : ''}
${o.remediation ? `<div>Fix:</div><pre class="fix" tabindex="0">${esc(o.remediation)}</pre>` : ''}
<button type="button" id="outage-close">close</button></article>`;
  d.hidden = false;
  $('outage-close').addEventListener('click', () => {
    d.hidden = true;
  });
  d.scrollIntoView({ block: 'nearest' });
}

/** "3rd time this week" on each live root cause (the list is drawn by app.js). */
function annotateCauses() {
  for (const a of document.querySelectorAll('#causes-list article.rc[data-id]')) {
    const text = nthThisWeek(hs.week, a.dataset.id, hs.now);
    let el = a.querySelector('.nth');
    if (!text) {
      el?.remove();
      continue;
    }
    if (!el) {
      el = document.createElement('span');
      el.className = 'nth';
      a.querySelector('.meta')?.append(' · ', el);
    }
    if (el.textContent !== text) el.textContent = text;
  }
}

// --- segments over time ------------------------------------------------------------------

function renderGrid() {
  const g = hs.grid;
  const el = $('seg-grid');
  if (!g || g.groups.length === 0) {
    el.innerHTML = '<p class="hint">No segment samples yet (one every 10 s).</p>';
    return;
  }
  const head = g.groups.map((b) => `<th scope="col">${esc(b)}</th>`).join('');
  const rows = g.groups
    .map((a) => {
      const cells = g.groups
        .map((b) => {
          const c = g.cell(a, b);
          const loss = c?.loss ?? null;
          const sel = hs.seg && hs.seg[0] === a && hs.seg[1] === b;
          const txt = loss === null ? '—' : `${Math.round(loss * 100)}%`;
          const label = `${hs.label} ${a} → ${b}: worst loss ${loss === null ? 'not probed' : txt}${c?.rttMs != null ? `, RTT ${c.rttMs.toFixed(2)} ms` : ''}`;
          return `<td><button type="button" class="segcell ${lossClass(loss)}${sel ? ' sel' : ''}" data-from="${esc(a)}" data-to="${esc(b)}" aria-pressed="${!!sel}" aria-label="${esc(label)}" title="${esc(label)}">${esc(txt)}</button></td>`;
        })
        .join('');
      return `<tr><th scope="row">${esc(a)}</th>${cells}</tr>`;
    })
    .join('');
  el.innerHTML = `<table class="seg-grid"><thead><tr><th>${esc(hs.label)} →</th>${head}</tr></thead><tbody>${rows}</tbody></table>`;
  for (const b of el.querySelectorAll('button.segcell'))
    b.addEventListener('click', () => {
      hs.seg = [b.dataset.from, b.dataset.to];
      renderGrid();
      loadSegment(true);
    });
}

/**
 * The chart of the selected segment; with `withPairs` (a click on a cell: the user asked for
 * it) also the group pair's node pairs now, which costs the collector a pass over all pairs.
 */
async function loadSegment(withPairs) {
  if (!hs.seg) return;
  const [a, b] = hs.seg;
  const q = `since=${hs.range}&from=${encodeURIComponent(a)}&to=${encodeURIComponent(b)}&points=720`;
  const pairsUrl = `/api/v1/pairs?path=vxlan&from=${encodeURIComponent(a)}&to=${encodeURIComponent(b)}`;
  const [body, pairs] = await Promise.all([
    get(`/api/v1/history/segments?${q}`),
    withPairs ? get(pairsUrl).catch(() => ({ pairs: [] })) : null,
  ]);
  if (pairs) hs.pairs = { key: `${a}|${b}`, list: pairs.pairs ?? [] };
  else if (hs.pairs?.key !== `${a}|${b}`) hs.pairs = null;
  const s = body.segments[0] ?? { t: [], loss: [], rttMs: [] };
  const p = pal();
  const data = [s.t, s.loss.map((x) => (x === null ? null : x * 100)), s.rttMs];
  const el = $('seg-chart');
  const width = Math.max(320, Math.min(1400, el.parentElement.clientWidth || 900));
  const span = RANGES[hs.range];
  // Fewer samples than the range (a collector started recently): the chart covers the data,
  // at least 10 minutes, instead of a sliver at the right edge of 24 h.
  const first = s.t.length ? s.t[0] * 1000 : hs.now;
  const x0 = Math.max(hs.now - span, Math.min(first, hs.now - 600_000));
  const covers = x0 > hs.now - span ? ` (samples since ${utc(first).slice(11)})` : '';
  const opts = {
    title: `${hs.label} ${a} → ${b}: loss and RTT, last ${hs.range === '24h' ? '24 hours' : '7 days'}${covers}`,
    width,
    height: 220,
    scales: {
      x: { time: true, range: [x0 / 1000, hs.now / 1000] },
      loss: { range: [0, 100] },
      rtt: { range: (_u, _lo, hi) => [0, Math.max(1, (hi ?? 1) * 1.2)] },
    },
    axes: [
      { stroke: p.mut, grid: { stroke: p.line, width: 1 } },
      { scale: 'loss', stroke: p.bad, values: (_u, v) => v.map((x) => `${x}%`), grid: { stroke: p.line } },
      {
        scale: 'rtt',
        side: 1,
        stroke: p.mut,
        values: (_u, v) => v.map((x) => `${x} ms`),
        grid: { show: false },
      },
    ],
    series: [
      {},
      { label: 'loss %', scale: 'loss', stroke: p.bad, width: 2, fill: `${p.bad}33`, spanGaps: false },
      { label: 'RTT ms', scale: 'rtt', stroke: p.info, width: 1, spanGaps: false },
    ],
  };
  hs.segChart?.destroy();
  el.textContent = '';
  hs.segChart = new uPlot(opts, data, el);
  el.dataset.points = String(s.t.length);
  el.dataset.segment = `${a}|${b}`;
  const list = [...(hs.pairs?.list ?? [])].sort((x, y) => (y.loss ?? -1) - (x.loss ?? -1));
  $('seg-pairs').innerHTML = !hs.pairs
    ? `<button type="button" id="seg-pairs-open">Show the pairs ${esc(a)} → ${esc(b)} with their hop fates</button>`
    : list.length
      ? `<h4>Pairs ${esc(a)} → ${esc(b)} now (${list.length})</h4><ul>${list
          .slice(0, 50)
          .map((x) => `<li class="${lossClass(x.loss)}">${esc(fateText(x))}</li>`)
          .join('')}</ul>${list.length > 50 ? `<p class="hint">${list.length - 50} more pairs</p>` : ''}`
      : '<p class="hint">No pairs probed between these groups now.</p>';
  $('seg-pairs-open')?.addEventListener('click', () => loadSegment(true));
}

let busy = false;
async function refresh() {
  if (busy) return;
  busy = true;
  try {
    const [h, segs] = await Promise.all([
      get('/api/v1/history?since=7d'),
      get(`/api/v1/history/segments?since=${hs.range}&points=1`).catch(() => null),
    ]);
    hs.now = Date.parse(h.generatedAt);
    hs.week = h.outages;
    drawTimeline();
    renderList();
    annotateCauses();
    if (segs) {
      hs.label = segs.groupLabel;
      hs.grid = segmentGrid(segs.segments);
      if (!hs.seg || !hs.grid.cell(hs.seg[0], hs.seg[1])) hs.seg = defaultSegment(hs.grid);
      renderGrid();
      // The pairs list, once opened, follows the refresh (it was asked for).
      await loadSegment(hs.pairs?.key === `${hs.seg?.[0]}|${hs.seg?.[1]}`);
    }
    if (!hs.rendered) {
      hs.rendered = true;
      performance.mark('vx-history-render');
    }
    document.body.dataset.history = String((Number(document.body.dataset.history) || 0) + 1);
  } catch (e) {
    $('hist-count').textContent = `history unavailable: ${e.message}`;
  } finally {
    busy = false;
  }
}

if (mount()) {
  refresh();
  setInterval(refresh, 10_000);
  // app.js redraws the root-cause list on every change: put "Nth time this week" back.
  const list = $('causes-list');
  if (list) new MutationObserver(() => annotateCauses()).observe(list, { childList: true });
}
