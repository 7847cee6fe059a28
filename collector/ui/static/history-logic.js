// Pure logic of the page's history views (no DOM): importable by node unit tests.

const SEV = { critical: 0, warning: 1, info: 2 };

/**
 * Timeline rows: one per root cause (id) with an outage overlapping [from, to] (ms), worst
 * severity first, then the earliest start. Each bar is clipped to the window; an open outage
 * runs to `now`.
 */
export function timelineRows(outages, from, to, now) {
  const rows = new Map();
  for (const o of outages) {
    const s = Date.parse(o.start);
    const e = o.end === null ? now : Date.parse(o.end);
    if (e < from || s > to) continue;
    let r = rows.get(o.id);
    if (!r) {
      r = { id: o.id, kind: o.kind, place: o.place, severity: o.severity, bars: [] };
      rows.set(o.id, r);
    }
    if ((SEV[o.severity] ?? 9) < (SEV[r.severity] ?? 9)) r.severity = o.severity;
    r.bars.push({ x0: Math.max(s, from), x1: Math.max(Math.min(e, to), Math.max(s, from)), outage: o });
  }
  return [...rows.values()]
    .map((r) => ({ ...r, bars: r.bars.sort((a, b) => a.x0 - b.x0) }))
    .sort(
      (a, b) =>
        (SEV[a.severity] ?? 9) - (SEV[b.severity] ?? 9) ||
        (a.bars[0]?.x0 ?? 0) - (b.bars[0]?.x0 ?? 0) ||
        a.id.localeCompare(b.id),
    );
}

/** The bar under (row, time ms), with a tolerance of `slackMs` either side (thin bars). */
export function barAt(rows, row, t, slackMs) {
  const r = rows[row];
  if (!r) return null;
  let best = null;
  let bestD = Number.POSITIVE_INFINITY;
  for (const b of r.bars) {
    const d = t < b.x0 ? b.x0 - t : t > b.x1 ? t - b.x1 : 0;
    if (d <= slackMs && d < bestD) {
      best = b;
      bestD = d;
    }
  }
  return best;
}

/** `1h02m`, `5m07s`, `42s` (as `vxdoctor history` prints them). */
export function durationText(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  const two = (n) => String(n).padStart(2, '0');
  if (d) return `${d}d${two(h)}h${two(m)}m`;
  if (h) return `${h}h${two(m)}m`;
  if (m) return `${m}m${two(r)}s`;
  return `${r}s`;
}

export function ordinal(n) {
  const t = n % 100;
  if (t >= 11 && t <= 13) return `${n}th`;
  return `${n}${{ 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] ?? 'th'}`;
}

/** "3rd time this week" for a root-cause id, from the week's outages (null: first time). */
export function nthThisWeek(outages, id, now) {
  const n = outages.filter((o) => o.id === id && Date.parse(o.start) >= now - 7 * 86400_000).length;
  return n >= 2 ? `${ordinal(n)} time this week` : n === 1 ? 'first time this week' : null;
}

/**
 * Group x group grid of the segments' worst loss in the window: {groups, cell(from, to)}.
 * `segments` are single-point series (points=1): loss = the worst, rttMs = the mean.
 */
export function segmentGrid(segments) {
  const gs = new Set();
  const m = new Map();
  for (const s of segments) {
    gs.add(s.from);
    gs.add(s.to);
    const worst = s.loss.reduce((a, x) => (x === null ? a : a === null ? x : Math.max(a, x)), null);
    const rtts = s.rttMs.filter((x) => x !== null);
    m.set(`${s.from}\u0000${s.to}`, {
      loss: worst,
      rttMs: rtts.length ? rtts.reduce((a, x) => a + x, 0) / rtts.length : null,
    });
  }
  const groups = [...gs].sort();
  return { groups, cell: (a, b) => m.get(`${a}\u0000${b}`) ?? null };
}

/** The segment to show first: the worst loss in the window, else the first cross-group one. */
export function defaultSegment(grid) {
  let best = null;
  for (const a of grid.groups)
    for (const b of grid.groups) {
      const c = grid.cell(a, b);
      if (!c) continue;
      const score = (c.loss ?? -1) + (a !== b ? 0.001 : 0);
      if (!best || score > best.score) best = { from: a, to: b, score };
    }
  return best ? [best.from, best.to] : null;
}
