/**
 * Outage history, the pure part: a root cause's life as events (raised, changed, cleared),
 * the transitions between two diagnoses, the de-duplication id of each event, and the folding
 * of an event log (possibly written by several collector replicas, several times) into outages.
 * No I/O here: collector/history/store.ts writes and reads the events on JetStream.
 */
import type { RootCause, RootCauseKind, Severity } from '../../shared/schema.js';

export const HISTORY_EVENT_VERSION = 1;

export type HistoryEventType = 'raised' | 'changed' | 'cleared';

/** What the root cause looked like at the event (evidence capped: events stay small). */
export interface RootCauseFacts {
  kind: RootCauseKind;
  severity: Severity;
  nodes: string[];
  segment?: { from: string; to: string; label: string };
  summary: string;
  evidence: string[];
  remediation: string;
}

/** One event on the history stream (`vxdoctor.history.v1.<type>`). */
export interface HistoryEvent extends RootCauseFacts {
  v: typeof HISTORY_EVENT_VERSION;
  type: HistoryEventType;
  /** Root-cause id (kind + place). */
  id: string;
  /** The root cause's `since` as the writing collector knew it (ISO). */
  since: string;
  /** When the transition was seen (ISO). */
  at: string;
  /** Which collector wrote it (durable name or host), for the log only. */
  by: string;
  /** On `raised`: the time of this collector's `cleared` it takes back (same `since`). */
  reopens?: string;
}

/** One outage: a root cause from raised to cleared (or still open). */
export interface Outage extends RootCauseFacts {
  /** `<root-cause id>|<start>`: stable across replicas and restarts. */
  outage: string;
  id: string;
  start: string;
  /** ISO end, or null while the outage is open. */
  end: string | null;
  open: boolean;
  /** Seconds from start to end (to `now` while open). */
  durationSeconds: number;
  /** Where, in words: "rack A <-> rack B" or the node list. */
  place: string;
  /** The facts at the outage's worst (highest severity, then most nodes, then most evidence). */
  worst: RootCauseFacts & { at: string };
  /** How many times the outage changed place, severity or summary. */
  changes: number;
}

export const MAX_EVIDENCE_LINES = 20;
const MAX_LINE = 500;

export function factsOf(rc: RootCause): RootCauseFacts {
  return {
    kind: rc.kind,
    severity: rc.severity,
    nodes: [...rc.nodes].sort(),
    ...(rc.segment ? { segment: { ...rc.segment } } : {}),
    summary: rc.summary,
    evidence: rc.evidence.slice(0, MAX_EVIDENCE_LINES).map((l) => l.slice(0, MAX_LINE)),
    remediation: rc.remediation,
  };
}

/**
 * What counts as a change: place (nodes, segment), severity or the summary (the evidence
 * summary: counts in it change as the outage spreads). Evidence lines alone do not: they carry
 * per-round numbers that would write an event every evaluation.
 */
export function changeKey(f: RootCauseFacts): string {
  const seg = f.segment ? `${f.segment.label}:${f.segment.from}:${f.segment.to}` : '';
  return `${f.severity}|${f.nodes.join(',')}|${seg}|${f.summary}`;
}

/** Short, stable hash (FNV-1a 32-bit, hex) for message ids. */
export function hash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/**
 * The JetStream `Nats-Msg-Id` of an event: the same transition written by two replicas (that
 * agree on `since`) or twice by one collector across a restart is stored once, within the
 * stream's duplicate window. Folding (below) makes the rest idempotent.
 */
export function msgId(e: Pick<HistoryEvent, 'type' | 'id' | 'since' | 'reopens'> & RootCauseFacts): string {
  const base = `${e.id}|${e.since}|${e.type}`;
  if (e.type === 'raised' && e.reopens) return `${base}|${e.reopens}`;
  return e.type === 'changed' ? `${base}|${hash(changeKey(e))}` : base;
}

/** What the recorder remembers of each open outage it has written. */
export interface OpenOutage {
  since: string;
  key: string;
  facts: RootCauseFacts;
  /**
   * Known from the history (written before a restart, or by another replica), not by this
   * collector's own diagnosis: a different `since` for it is the same outage, not a new one.
   */
  seeded?: boolean;
  /** Missing from the diagnosis since (ISO), while within the clear grace. */
  absentSince?: string;
}

/** Options of `transitions`: how long a root cause must be gone before it counts as cleared. */
export interface TransitionOptions {
  /**
   * A root cause missing from the diagnosis for less than this (ms) is still open: the
   * diagnosis can drop one for an evaluation and raise it again with the same `since`.
   * The clear is dated at the first evaluation it was missing from. Default 0.
   */
  clearGraceMs?: number;
  /**
   * Outages this collector closed (root-cause id -> their `since` and clear time), kept by the
   * caller: one raised again with the same `since` reopens that outage (`reopens` on the event).
   */
  closed?: Map<string, { since: string; at: string }>;
}

/**
 * Transitions from the open outages known so far to the current diagnosis: raised for a new
 * root cause (or a new `since`: it cleared and came back between two evaluations), changed
 * when its change key moved, cleared for one that is gone (for `clearGraceMs`). Returns the
 * events and the new map.
 */
export function transitions(
  open: ReadonlyMap<string, OpenOutage>,
  current: RootCause[],
  at: string,
  by: string,
  o: TransitionOptions = {},
): { events: HistoryEvent[]; open: Map<string, OpenOutage> } {
  const events: HistoryEvent[] = [];
  const next = new Map<string, OpenOutage>();
  const now = Date.parse(at);
  const ev = (
    type: HistoryEventType,
    id: string,
    since: string,
    f: RootCauseFacts,
    when = at,
  ): HistoryEvent => ({
    v: HISTORY_EVENT_VERSION,
    type,
    id,
    since,
    at: when,
    by,
    ...f,
  });
  const clear = (id: string, prev: OpenOutage, when: string) => {
    events.push(ev('cleared', id, prev.since, prev.facts, when));
    o.closed?.set(id, { since: prev.since, at: when });
  };
  for (const rc of current) {
    const f = factsOf(rc);
    const key = changeKey(f);
    const prev = open.get(rc.id);
    if (prev?.seeded && prev.since !== rc.since) {
      // Our `since` differs from the history's: say raised with ours, folding merges the two.
      events.push(ev('raised', rc.id, rc.since, f));
    } else if (!prev || prev.since !== rc.since) {
      if (prev) clear(rc.id, prev, prev.absentSince ?? at);
      const was = o.closed?.get(rc.id);
      const e = ev('raised', rc.id, rc.since, f);
      // Cleared, then back with the same `since`: the diagnosis says it never ended.
      if (was && was.since === rc.since) e.reopens = was.at;
      o.closed?.delete(rc.id);
      events.push(e);
    } else if (prev.key !== key) {
      events.push(ev('changed', rc.id, rc.since, f));
    }
    next.set(rc.id, { since: rc.since, key, facts: f });
  }
  for (const [id, prev] of open) {
    if (next.has(id)) continue;
    const gone = prev.absentSince ?? at;
    if (now - Date.parse(gone) >= (o.clearGraceMs ?? 0)) clear(id, prev, gone);
    else next.set(id, { ...prev, absentSince: gone });
  }
  return { events, open: next };
}

const SEV_RANK: Record<string, number> = { critical: 3, warning: 2, info: 1 };

/** True when `b` is worse than `a`: higher severity, then more nodes, then more evidence. */
export function worse(a: RootCauseFacts, b: RootCauseFacts): boolean {
  const sa = SEV_RANK[a.severity] ?? 0;
  const sb = SEV_RANK[b.severity] ?? 0;
  if (sb !== sa) return sb > sa;
  if (b.nodes.length !== a.nodes.length) return b.nodes.length > a.nodes.length;
  return b.evidence.length > a.evidence.length;
}

export function placeOf(f: Pick<RootCauseFacts, 'nodes' | 'segment'>): string {
  if (f.segment) return `${f.segment.label} ${f.segment.from} <-> ${f.segment.label} ${f.segment.to}`;
  if (f.nodes.length === 0) return 'cluster';
  return f.nodes.length > 6
    ? `${f.nodes.slice(0, 6).join(', ')} +${f.nodes.length - 6} more`
    : f.nodes.join(', ');
}

/** Checks a decoded event's shape; returns null for anything else (a foreign or corrupt message). */
export function parseEvent(raw: unknown): HistoryEvent | null {
  if (!raw || typeof raw !== 'object') return null;
  const e = raw as Partial<HistoryEvent>;
  if (e.v !== HISTORY_EVENT_VERSION) return null;
  if (e.type !== 'raised' && e.type !== 'changed' && e.type !== 'cleared') return null;
  for (const k of ['id', 'since', 'at', 'kind', 'severity', 'summary', 'remediation'] as const) {
    if (typeof e[k] !== 'string') return null;
  }
  if (Number.isNaN(Date.parse(e.since as string)) || Number.isNaN(Date.parse(e.at as string))) return null;
  if (!Array.isArray(e.nodes) || !e.nodes.every((n) => typeof n === 'string')) return null;
  if (!Array.isArray(e.evidence) || !e.evidence.every((n) => typeof n === 'string')) return null;
  const s = e.segment;
  if (
    s !== undefined &&
    (typeof s !== 'object' ||
      typeof s.from !== 'string' ||
      typeof s.to !== 'string' ||
      typeof s.label !== 'string')
  )
    return null;
  if (e.reopens !== undefined && (typeof e.reopens !== 'string' || Number.isNaN(Date.parse(e.reopens))))
    return null;
  return { ...(e as HistoryEvent), by: typeof e.by === 'string' ? e.by : '' };
}

interface Building {
  id: string;
  start: number;
  end: number | null;
  last: RootCauseFacts;
  lastKey: string;
  worst: RootCauseFacts & { at: string };
  changes: number;
  firstSince: string;
}

/**
 * Folds events into outages, idempotently: the same event any number of times, from any number
 * of replicas, in any arrival order, gives the same outages. Per root-cause id, events are
 * taken in time order (`at`, then type: raised < changed < cleared); a `raised` while an outage
 * is open, or whose `since` falls inside the last closed outage, is the same outage seen by
 * another replica or after a restart (start = the earliest `since`); a `cleared` closes the
 * open outage, or extends a closed one's end when another replica saw the clear later.
 */
export function fold(events: HistoryEvent[], now: number): Outage[] {
  const order: Record<HistoryEventType, number> = { raised: 0, changed: 1, cleared: 2 };
  const byId = new Map<string, HistoryEvent[]>();
  for (const e of events) {
    const l = byId.get(e.id);
    if (l) l.push(e);
    else byId.set(e.id, [e]);
  }
  const out: Outage[] = [];
  for (const [id, list] of byId) {
    list.sort(
      (a, b) =>
        Date.parse(a.at) - Date.parse(b.at) ||
        order[a.type] - order[b.type] ||
        a.since.localeCompare(b.since),
    );
    const done: Building[] = [];
    let cur: Building | null = null;
    const start = (e: HistoryEvent): Building => {
      const f = pick(e);
      return {
        id,
        start: Date.parse(e.since),
        end: null,
        last: f,
        lastKey: changeKey(f),
        worst: { ...f, at: e.at },
        changes: 0,
        firstSince: e.since,
      };
    };
    const absorb = (b: Building, e: HistoryEvent): void => {
      const f = pick(e);
      const k = changeKey(f);
      if (Date.parse(e.at) >= b.start && k !== b.lastKey) {
        b.changes++;
        b.lastKey = k;
      }
      b.last = f;
      if (worse(b.worst, f)) b.worst = { ...f, at: e.at };
    };
    for (const e of list) {
      const since = Date.parse(e.since);
      const at = Date.parse(e.at);
      if (e.type === 'cleared') {
        if (cur) {
          absorb(cur, e);
          cur.end = Math.max(at, cur.start);
          done.push(cur);
          cur = null;
        } else {
          const prev = done[done.length - 1];
          if (prev?.end !== null && prev !== undefined && since <= prev.end)
            prev.end = Math.max(prev.end, at);
        }
        continue;
      }
      if (cur) {
        if (since < cur.start) cur.start = since;
        absorb(cur, e);
        continue;
      }
      const prev = done[done.length - 1];
      if (e.type === 'raised' && e.reopens && prev && prev.end !== null && since <= prev.end) {
        // Cleared, then raised again with the same `since`: the outage had not ended.
        done.pop();
        prev.end = null;
        absorb(prev, e);
        cur = prev;
        continue;
      }
      if (prev && prev.end !== null && since <= prev.end) {
        // The same outage as the last one, reported late (another replica, a restart).
        if (since < prev.start) prev.start = since;
        if (worse(prev.worst, pick(e))) prev.worst = { ...pick(e), at: e.at };
        continue;
      }
      cur = start(e);
      if (e.type === 'changed') cur.changes = 0;
    }
    if (cur) done.push(cur);
    for (const b of done) out.push(finish(b, now));
  }
  return out.sort((a, b) => a.start.localeCompare(b.start) || a.id.localeCompare(b.id));
}

function pick(e: HistoryEvent): RootCauseFacts {
  return {
    kind: e.kind,
    severity: e.severity,
    nodes: e.nodes,
    ...(e.segment ? { segment: e.segment } : {}),
    summary: e.summary,
    evidence: e.evidence,
    remediation: e.remediation,
  };
}

function finish(b: Building, now: number): Outage {
  const startIso = new Date(b.start).toISOString();
  const endMs = b.end ?? now;
  const f = b.worst;
  return {
    outage: `${b.id}|${startIso}`,
    id: b.id,
    start: startIso,
    end: b.end === null ? null : new Date(b.end).toISOString(),
    open: b.end === null,
    durationSeconds: Math.max(0, Math.round((endMs - b.start) / 1000)),
    kind: b.last.kind,
    severity: f.severity,
    nodes: b.last.nodes,
    ...(b.last.segment ? { segment: b.last.segment } : {}),
    place: placeOf(b.last),
    summary: b.last.summary,
    evidence: f.evidence,
    remediation: b.last.remediation,
    worst: f,
    changes: b.changes,
  };
}

export interface HistoryFilter {
  /** Window start/end (ms): outages that overlap [since, until]. */
  since: number;
  until: number;
  kind?: string;
  /** A node the outage involves (in `nodes`). */
  node?: string;
  /** A segment group value (either end), or `A,B` for one pair of groups (either order). */
  segment?: string;
}

/** Outages overlapping the window and matching the filters, newest first. */
export function query(outages: Outage[], f: HistoryFilter): Outage[] {
  const seg = f.segment?.split(/,|<->/).map((s) => s.trim());
  return outages
    .filter((o) => {
      const s = Date.parse(o.start);
      const e = o.end === null ? Number.POSITIVE_INFINITY : Date.parse(o.end);
      if (e < f.since || s > f.until) return false;
      if (f.kind !== undefined && o.kind !== f.kind) return false;
      if (f.node !== undefined && !o.nodes.includes(f.node)) return false;
      if (seg) {
        if (!o.segment) return false;
        const ends = [o.segment.from, o.segment.to];
        if (seg.length === 1) {
          if (!ends.includes(seg[0] as string)) return false;
        } else if (!(ends[0] === seg[0] && ends[1] === seg[1]) && !(ends[0] === seg[1] && ends[1] === seg[0]))
          return false;
      }
      return true;
    })
    .sort((a, b) => b.start.localeCompare(a.start) || a.id.localeCompare(b.id));
}

/** How many outages of the same root cause (id) started within `[from, to]`, this one included. */
export function occurrences(outages: Outage[], id: string, from: number, to: number): number {
  return outages.filter((o) => o.id === id && Date.parse(o.start) >= from && Date.parse(o.start) <= to)
    .length;
}

/** "1st", "2nd", "3rd", "11th", ... */
export function ordinal(n: number): string {
  const t = n % 100;
  if (t >= 11 && t <= 13) return `${n}th`;
  return `${n}${({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th'}`;
}

/**
 * A point in time for `since`/`until`: an ISO/RFC 3339 time, unix milliseconds, or a duration
 * ago (`90s`, `30m`, `24h`, `7d`). Returns null for anything else.
 */
export function parseWhen(text: string, now: number): number | null {
  const t = text.trim();
  const d = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(t);
  if (d) {
    const f = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 }[d[2] as 'ms'];
    return now - Math.round(Number(d[1]) * f);
  }
  if (/^\d{10,}$/.test(t)) return Number(t);
  if (!/^\d{4}-\d{2}-\d{2}/.test(t)) return null;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : ms;
}
