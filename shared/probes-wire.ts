/**
 * The compact wire form of a probes message ("rows-1"): what agents publish on
 * `vxdoctor.v1.<node>.probes` since 0.3, and what the collector expands back into a
 * `ProbesMessage` before its schema check.
 *
 * Why: the probes message is the one message per node and round, so it is what fills the stream
 * and what the collector parses. As plain JSON objects a round of 40 targets (4 results each, and
 * the arrival reports of the peers that probed this node) is ≈ 55 KB: every result repeats its
 * field names, `src`, the round, the destination's name and address, and the note that a
 * full-size probe stood for the small one. Here each string is sent once (`strings`), and a
 * result is a row of numbers (`ROW` below); the same round is ≈ 7× smaller and parses that much
 * faster. It is still JSON (readable with `nats sub`), and the expansion is exact except RTT,
 * which travels in whole microseconds (the smallest RTT histogram bucket is 25 µs).
 *
 * Pure: no I/O. The expanded message is checked by the same schema as a plain one, so a row can
 * never say what a plain result could not.
 */
import {
  type ArrivalReport,
  type HopsEvidence,
  PROBE_PATHS,
  type ProbePath,
  type ProbeResult,
  type ProbesMessage,
  SCHEMA_VERSION,
  type Seen,
} from './schema.js';

export const WIRE_ENCODING = 'rows-1';

/** Optional per-row details: note and ICMP texts (string-table indexes), PMTU outcome, hop walk. */
export interface WireExt {
  n?: number;
  i?: number[];
  /** [required, largestPassing, fragNeededMtu, learnedPmtu], -1 for null. */
  p?: [number, number, number, number];
  h?: HopsEvidence;
}

/**
 * One result: [dst, path, target, port, round - message round, at - message at, flags,
 * rtt in µs, ext?]. dst, target: string-table indexes; path: index in PROBE_PATHS; port and rtt
 * -1 for null; flags: bit 0 sent, bit 1 answered, bits 2-3 leftSrc, 4-5 arrivedDst,
 * 6-7 replySeen (each 0 null, 1 false, 2 true).
 */
export type WireRow =
  | [number, number, number, number, number, number, number, number]
  | [number, number, number, number, number, number, number, number, WireExt];

/** One arrival report: [from (string index), path, count, lastAt - message at]. */
export type WireArrival = [number, number, number, number];

export interface ProbesWire {
  schemaVersion: typeof SCHEMA_VERSION;
  type: 'probes';
  node: string;
  at: number;
  id: string;
  round: number;
  encoding: typeof WIRE_ENCODING;
  strings: string[];
  rows: WireRow[];
  arrived: WireArrival[];
}

const PATH_INDEX = new Map<ProbePath, number>(PROBE_PATHS.map((p, i) => [p, i]));
const tri = (s: Seen): number => (s === null ? 0 : s ? 2 : 1);
const untri = (v: number): Seen => (v === 0 ? null : v === 2);
const orMinus = (v: number | null): number => (v === null ? -1 : v);
const orNull = (v: number): number | null => (v === -1 ? null : v);

/** A wire message's string table: `index(v)` is v's position, added on first use. */
export function stringTable(): { strings: string[]; index: (v: string) => number } {
  const strings: string[] = [];
  const at = new Map<string, number>();
  const index = (v: string): number => {
    let i = at.get(v);
    if (i === undefined) {
      i = strings.length;
      strings.push(v);
      at.set(v, i);
    }
    return i;
  };
  return { strings, index };
}

/** Encodes a probes message (every result's `src` is the message's node). */
export function encodeProbes(m: ProbesMessage): ProbesWire {
  const { strings, index: s } = stringTable();
  const rows: WireRow[] = [];
  for (const r of m.results) {
    const flags =
      (r.sent ? 1 : 0) |
      (r.answered ? 2 : 0) |
      (tri(r.leftSrc) << 2) |
      (tri(r.arrivedDst) << 4) |
      (tri(r.replySeen) << 6);
    const row: [number, number, number, number, number, number, number, number] = [
      s(r.dst),
      PATH_INDEX.get(r.path) ?? 0,
      s(r.target),
      orMinus(r.port),
      r.round - m.round,
      r.at - m.at,
      flags,
      r.rttSeconds === null ? -1 : Math.round(r.rttSeconds * 1e6),
    ];
    const ext: WireExt = {};
    if (r.note !== undefined) ext.n = s(r.note);
    if (r.icmp.length) ext.i = r.icmp.map(s);
    if (r.pmtu)
      ext.p = [
        r.pmtu.required,
        orMinus(r.pmtu.largestPassing),
        orMinus(r.pmtu.fragNeededMtu),
        orMinus(r.pmtu.learnedPmtu),
      ];
    if (r.hops) ext.h = r.hops;
    rows.push(ext.n !== undefined || ext.i || ext.p || ext.h ? [...row, ext] : row);
  }
  const arrived: WireArrival[] = m.arrivals.map((a) => [
    s(a.from),
    PATH_INDEX.get(a.path) ?? 0,
    a.count,
    a.lastAt - m.at,
  ]);
  return {
    schemaVersion: m.schemaVersion,
    type: 'probes',
    node: m.node,
    at: m.at,
    id: m.id,
    round: m.round,
    encoding: WIRE_ENCODING,
    strings,
    rows,
    arrived,
  };
}

export type Expanded = { ok: true; msg: ProbesMessage } | { ok: false; detail: string };

const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Upper bounds of one wire message (as the plain schema's lists). */
const MAX_ROWS = 16_384;
const MAX_STRINGS = 65_536;

/**
 * Expands a parsed wire body into a plain `ProbesMessage`, or says what is wrong with it (the
 * first problem, as `/rows/3: ...`). Only the wire's own structure is checked here (indexes,
 * integers, row lengths); the result still has to pass the plain schema.
 */
export function expandProbes(w: Record<string, unknown>): Expanded {
  const bad = (detail: string): Expanded => ({ ok: false, detail: detail.slice(0, 300) });
  if (w.encoding !== WIRE_ENCODING) return bad(`/encoding: not ${WIRE_ENCODING}`);
  const { strings, rows, arrived } = w;
  if (!Array.isArray(strings) || strings.length > MAX_STRINGS)
    return bad('/strings: not a list (or too long)');
  for (let i = 0; i < strings.length; i++)
    if (typeof strings[i] !== 'string') return bad(`/strings/${i}: not a string`);
  if (!Array.isArray(rows) || rows.length > MAX_ROWS) return bad('/rows: not a list (or too long)');
  if (!Array.isArray(arrived) || arrived.length > MAX_ROWS) return bad('/arrived: not a list (or too long)');
  if (!isInt(w.at) || !isInt(w.round)) return bad('/at, /round: not integers');
  const at = w.at;
  const round = w.round;
  const node = w.node;
  if (typeof node !== 'string') return bad('/node: not a string');
  const str = (i: unknown): string | undefined =>
    isInt(i) && i >= 0 && i < strings.length ? (strings[i] as string) : undefined;
  const path = (i: unknown): ProbePath | undefined => (isInt(i) ? PROBE_PATHS[i] : undefined);
  const results: ProbeResult[] = new Array(rows.length);
  for (let k = 0; k < rows.length; k++) {
    const row = rows[k] as unknown;
    if (!Array.isArray(row) || row.length < 8 || row.length > 9)
      return bad(`/rows/${k}: not a row of 8 or 9`);
    const [d, p, t, port, dRound, dAt, flags, rtt, ext] = row as unknown[];
    const dst = str(d);
    const target = str(t);
    const pth = path(p);
    if (dst === undefined || target === undefined || pth === undefined)
      return bad(`/rows/${k}: dst, path or target out of range`);
    if (!isInt(port) || !isInt(dRound) || !isInt(dAt) || !isInt(flags) || flags < 0 || flags > 255)
      return bad(`/rows/${k}: port, round, at or flags not an integer in range`);
    if (typeof rtt !== 'number' || !Number.isFinite(rtt)) return bad(`/rows/${k}: rtt not a number`);
    const r: ProbeResult = {
      path: pth,
      src: node,
      dst,
      target,
      port: port === -1 ? null : port,
      round: round + dRound,
      at: at + dAt,
      sent: (flags & 1) === 1,
      leftSrc: untri((flags >> 2) & 3),
      arrivedDst: untri((flags >> 4) & 3),
      answered: (flags & 2) === 2,
      replySeen: untri((flags >> 6) & 3),
      rttSeconds: rtt === -1 ? null : rtt / 1e6,
      icmp: [],
    };
    if (ext !== undefined) {
      if (!isObj(ext)) return bad(`/rows/${k}/8: not an object`);
      if (ext.n !== undefined) {
        const n = str(ext.n);
        if (n === undefined) return bad(`/rows/${k}/8/n: out of range`);
        r.note = n;
      }
      if (ext.i !== undefined) {
        if (!Array.isArray(ext.i) || ext.i.length > 64) return bad(`/rows/${k}/8/i: not a list`);
        for (const i of ext.i) {
          const v = str(i);
          if (v === undefined) return bad(`/rows/${k}/8/i: out of range`);
          r.icmp.push(v);
        }
      }
      if (ext.p !== undefined) {
        const q = ext.p;
        if (!Array.isArray(q) || q.length !== 4 || !q.every(isInt))
          return bad(`/rows/${k}/8/p: not 4 integers`);
        r.pmtu = {
          required: q[0] as number,
          largestPassing: orNull(q[1] as number),
          fragNeededMtu: orNull(q[2] as number),
          learnedPmtu: orNull(q[3] as number),
        };
      }
      if (ext.h !== undefined) r.hops = ext.h as HopsEvidence; // checked by the plain schema
    }
    results[k] = r;
  }
  const arrivals: ArrivalReport[] = new Array(arrived.length);
  for (let k = 0; k < arrived.length; k++) {
    const a = arrived[k] as unknown;
    if (!Array.isArray(a) || a.length !== 4) return bad(`/arrived/${k}: not a row of 4`);
    const from = str(a[0]);
    const pth = path(a[1]);
    if (from === undefined || pth === undefined) return bad(`/arrived/${k}: from or path out of range`);
    if (!isInt(a[2]) || !isInt(a[3])) return bad(`/arrived/${k}: count or at not an integer`);
    arrivals[k] = { from, path: pth, count: a[2], lastAt: at + a[3] };
  }
  return {
    ok: true,
    msg: {
      schemaVersion: w.schemaVersion as typeof SCHEMA_VERSION,
      type: 'probes',
      node,
      at,
      id: w.id as string,
      round,
      results,
      arrivals,
    },
  };
}

/**
 * A parsed message body as its plain form: a compact probes message expanded, anything else as
 * is (for readers of the stream that want plain results: tests, tools). Throws on a broken wire.
 */
export function plainBody<T>(body: T): T {
  if (!isObj(body) || body.type !== 'probes' || body.encoding === undefined) return body;
  const x = expandProbes(body);
  if (!x.ok) throw new Error(`compact probes message: ${x.detail}`);
  return x.msg as unknown as T;
}
